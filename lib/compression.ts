// How item files are compressed: gzip (zlib), zstd or none. ImportTable reads
// all three (InputCompressionType GZIP / ZSTD / NONE). Node 20's zlib has no
// zstd, so zstd runs the `zstd` program (Debian package zstd) in a pipe; on our
// item JSON `zstd -1` takes about half gzip -1's CPU and writes smaller files.
// A file's compression is known by its name's suffix.
import { spawn, spawnSync } from 'node:child_process';
import { Duplex, PassThrough, type Readable, type Transform } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';

export const COMPRESSIONS = ['gzip', 'zstd', 'none'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

const SUFFIX: Record<Compression, string> = { gzip: '.gz', zstd: '.zst', none: '' };
const IMPORT_TYPE = { gzip: 'GZIP', zstd: 'ZSTD', none: 'NONE' } as const;

/** The suffix after `.json`: `.gz`, `.zst` or nothing. */
export const compressionSuffix = (compression: Compression) => SUFFIX[compression];

/** ImportTable's InputCompressionType for it. */
export const importCompressionType = (compression: Compression) => IMPORT_TYPE[compression];

/** A file's compression, by its name. */
export function compressionOf(key: string): Compression {
  if (key.endsWith('.gz')) return 'gzip';
  if (key.endsWith('.zst')) return 'zstd';
  return 'none';
}

export function checkCompression(value: string | undefined): Compression {
  const c = (value || 'gzip').toLowerCase();
  if (!(COMPRESSIONS as readonly string[]).includes(c)) throw new Error(`unknown compression ${JSON.stringify(value)}: use ${COMPRESSIONS.join(', ')}`);
  if (c === 'zstd' && !zstdAvailable()) throw new Error('compression zstd needs the zstd program on PATH (apt-get install zstd): Node 20 has no zstd');
  return c as Compression;
}

let zstdFound: boolean | undefined;
export function zstdAvailable(): boolean {
  zstdFound ??= spawnSync('zstd', ['--version'], { stdio: 'ignore' }).status === 0;
  return zstdFound;
}

/** A stream that compresses what is written to it. `level`: gzip's 0-9, or zstd's (1 when 0). */
export function compressor(compression: Compression, level: number): Transform | Duplex {
  if (compression === 'gzip') return createGzip({ level, chunkSize: 256 * 1024 });
  if (compression === 'none') return new PassThrough();
  return zstdPipe(['-q', '-c', `-${Math.max(level, 1)}`]);
}

/** The uncompressed bytes of `source` (named `key`); a corrupt or truncated file ends the stream with an error. */
export function decompress(source: Readable, key: string): Readable {
  const compression = compressionOf(key);
  if (compression === 'none') return source;
  const stream = decompressor(compression);
  source.on('error', (err) => stream.destroy(err));
  return source.pipe(stream);
}

/** A stream that decompresses what is written to it, for a pipeline. */
export function decompressor(compression: Compression): Transform | Duplex {
  // 64 KiB chunks (4× zlib's default) keep the hops to zlib's thread pool few.
  if (compression === 'gzip') return createGunzip({ chunkSize: 64 * 1024 });
  if (compression === 'none') return new PassThrough();
  return zstdPipe(['-q', '-d', '-c']);
}

/** The `zstd` program as a Duplex: writes go to its stdin, reads come from its stdout; a non-zero exit is an error. */
function zstdPipe(args: string[]): Duplex {
  const child = spawn('zstd', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
  const out = new PassThrough();
  child.stdout.pipe(out, { end: false });
  child.on('error', (err) => out.destroy(err));
  child.on('close', (code) => {
    if (code === 0) out.end();
    else out.destroy(new Error(`zstd: ${stderr.trim().split('\n').at(-1) || `exit status ${code}`}`));
  });
  // zstd exited early: its exit status says why.
  child.stdin.on('error', () => {});
  // A write's callback waits for the pipe to take its bytes (Duplex.from calls
  // back while stdin still holds them), so a writer may then reuse its buffer.
  const duplex = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      child.stdin.write(chunk, () => callback());
    },
    final(callback) {
      child.stdin.end();
      callback();
    },
    read() {
      out.resume();
    },
    destroy(err, callback) {
      if (child.exitCode === null) child.kill();
      out.destroy();
      callback(err);
    },
  });
  out.on('data', (chunk: Buffer) => { if (!duplex.push(chunk)) out.pause(); });
  out.on('end', () => duplex.push(null));
  out.on('error', (err) => duplex.destroy(err));
  return duplex;
}
