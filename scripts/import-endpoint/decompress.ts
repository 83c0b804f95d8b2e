// InputCompressionType GZIP / ZSTD / NONE. Node 20's zlib has no zstd, so
// ZSTD goes through the `zstd` program (Debian package zstd) when it is on
// PATH; without it the endpoint refuses ZSTD imports up front, clearly.
import { spawn } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Compression } from './import-request.ts';

// The stages' own lookup: zstd found on PATH as spawn finds it.
export { zstdAvailable } from '../../lib/compression.ts';

/** The uncompressed bytes of `source`; a corrupt or truncated input ends the stream with an error. */
export function decompress(source: Readable, compression: Compression): Readable {
  if (compression === 'NONE') return source;
  if (compression === 'GZIP') {
    const gunzip = createGunzip();
    source.on('error', (err) => gunzip.destroy(err));
    return source.pipe(gunzip);
  }
  const child = spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = new PassThrough();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
  source.on('error', (err) => { child.kill(); out.destroy(err); });
  child.stdin.on('error', () => { /* zstd exited early: its exit status says why */ });
  source.pipe(child.stdin);
  child.stdout.pipe(out, { end: false });
  child.on('close', (code) => {
    if (code === 0) out.end();
    else out.destroy(new Error(`zstd: ${stderr.trim().split('\n').at(-1) || `exit status ${code}`}`));
  });
  out.on('close', () => { if (child.exitCode === null) child.kill(); });
  return out;
}
