// How item files are compressed: gzip (zlib), zstd or none. ImportTable reads
// all three (InputCompressionType GZIP / ZSTD / NONE). Node 20's zlib has no
// zstd, so zstd runs the `zstd` program (Debian package zstd) in a pipe; on our
// item JSON `zstd -1` takes about half gzip -1's CPU and writes smaller files.
// A file's compression is known by its name's suffix.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Duplex, PassThrough, type Readable, type Transform } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { UserError } from './errors.ts';

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
  if (!(COMPRESSIONS as readonly string[]).includes(c)) throw new UserError(`unknown compression ${JSON.stringify(value)}: use ${COMPRESSIONS.join(', ')}`, 2);
  // A missing program is no usage error: one line and exit 1, not an internal error's stack.
  if (c === 'zstd' && !zstdAvailable()) throw new UserError('compression zstd needs the zstd program on PATH (apt-get install zstd): Node 20 has no zstd');
  return c as Compression;
}

let zstdFound: boolean | undefined;
const DEFAULT_PATH = '/bin:/usr/bin';
/** The errors on which execvp tries PATH's next entry; any other (a symlink loop, say) ends its search. */
const NEXT_ENTRY = new Set(['EACCES', 'ENOENT', 'ESTALE', 'ENOTDIR', 'ENODEV', 'ETIMEDOUT']);
/**
 * Whether PATH holds an executable `zstd`, looked up as spawn looks it up:
 * running `zstd --version` to find out cost a process start (~50 ms, more on
 * a busy machine) on every extract and transform.
 */
export function zstdAvailable(): boolean {
  zstdFound ??= (() => {
    // No PATH at all: spawn (execvp) searches the C library's default, glibc's /bin:/usr/bin.
    for (const dir of (process.env.PATH ?? DEFAULT_PATH).split(path.delimiter)) {
      const file = path.join(dir || '.', 'zstd');
      try {
        accessSync(file, constants.X_OK);
        // A folder of that name: execve fails with EACCES, and the search goes on.
        if (statSync(file).isFile()) return true;
      } catch (err) {
        if (!NEXT_ENTRY.has((err as NodeJS.ErrnoException).code ?? '')) return false;
      }
    }
    return false;
  })();
  return zstdFound;
}

/** zstd's compression workers per process at most. */
const ZSTD_WORKERS = 4;

/** A stream that compresses what is written to it. `level`: gzip's 0-9, or zstd's (1 when 0). */
export function compressor(compression: Compression, level: number): Transform | Duplex {
  if (compression === 'gzip') return createGzip({ level, chunkSize: 256 * 1024 });
  if (compression === 'none') return new PassThrough();
  // A worker per CPU this process may use. zstd's streamed multi-threaded
  // frames do not depend on the worker count (its tests/cli-tests/determinism),
  // and the CLI's default is one worker in that mode, so the bytes are those of
  // plain `-1` (checked on our item JSON: -T1, -T2, -T4 and no -T hash alike).
  // An item file is compressed after its last row is built, while the unit's
  // own thread mostly waits: 387 MB of processing_jobs' items took 0.71 s
  // instead of 0.92 s on 2 cores, the same CPU. Not -T0: zstd counts the
  // host's physical cores, ignoring the CPUs a container's cpuset (or taskset)
  // allows, and each worker holds its jobs' buffers (~25 MB at -9): at most
  // ZSTD_WORKERS, as every unit or part in flight runs its own zstd.
  return zstdPipe(['-q', '-c', `-${Math.max(level, 1)}`, `-T${Math.min(os.availableParallelism(), ZSTD_WORKERS)}`]);
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

/**
 * The `zstd` program as a Duplex: writes go to its stdin, reads come from its
 * stdout; a non-zero exit or a signal is an error. The program starts at the
 * first write or read, not when the stream is made: a stream made and then
 * dropped (its input could not be opened) leaves no process that would keep
 * Node running, and a missing program fails the stream's user, not the
 * process (an 'error' emitted before anyone listened).
 */
function zstdPipe(args: string[]): Duplex {
  const out = new PassThrough();
  let child: ChildProcessWithoutNullStreams | undefined;
  const start = (): ChildProcessWithoutNullStreams => {
    if (child) return child;
    const started = spawn('zstd', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    child = started;
    let stderr = '';
    started.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
    started.stdout.pipe(out, { end: false });
    started.on('error', (err: NodeJS.ErrnoException) => {
      out.destroy(err.code === 'ENOENT' ? new Error('zstd: no zstd program on PATH (apt-get install zstd)') : err);
    });
    started.on('close', (code, signal) => {
      if (code === 0) out.end();
      else out.destroy(new Error(`zstd: ${stderr.trim().split('\n').at(-1) || (signal ? `killed by ${signal}` : `exit status ${code}`)}`));
    });
    // zstd exited early: its exit status says why.
    started.stdin.on('error', () => {});
    return started;
  };
  // A write's callback waits for the pipe to take its bytes (Duplex.from calls
  // back while stdin still holds them), so a writer may then reuse its buffer.
  const duplex = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      start().stdin.write(chunk, () => callback());
    },
    final(callback) {
      start().stdin.end();
      callback();
    },
    read() {
      start();
      out.resume();
    },
    destroy(err, callback) {
      if (child && child.exitCode === null && child.signalCode === null) child.kill();
      out.destroy();
      callback(err);
    },
  });
  out.on('data', (chunk: Buffer) => { if (!duplex.push(chunk)) out.pause(); });
  out.on('end', () => duplex.push(null));
  out.on('error', (err) => duplex.destroy(err));
  return duplex;
}
