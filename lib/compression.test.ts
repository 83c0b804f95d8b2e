import test from 'ava';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { COMPRESSIONS, checkCompression, compressionOf, compressor, decompress, importCompressionType } from './compression.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const text = Array.from({ length: 20_000 }, (_, i) => `{"Item":{"PK":{"S":"USER#${i}"},"data":{"M":{"é":{"S":"ü\\n"}}}}}\n`).join('');

async function compress(compression: (typeof COMPRESSIONS)[number]): Promise<Buffer> {
  const out: Buffer[] = [];
  const stream = compressor(compression, 1);
  await pipeline(Readable.from([Buffer.from(text)]), stream, async (source: AsyncIterable<Buffer>) => { for await (const c of source) out.push(c); });
  return Buffer.concat(out);
}

for (const compression of COMPRESSIONS) {
  test(`${compression}: what is compressed decompresses to the same bytes, by the file's suffix`, async (t) => {
    const stored = await compress(compression);
    const key = `part-00000.json${{ gzip: '.gz', zstd: '.zst', none: '' }[compression]}`;
    t.is(compressionOf(key), compression);
    if (compression !== 'none') t.true(stored.length < text.length / 5, 'compressed');
    const back = Buffer.concat(await decompress(Readable.from([stored]), key).toArray());
    t.is(back.toString('utf8'), text);
  });
}

test('zstd writes the zstd frame format (magic number), and a truncated file is an error naming zstd', async (t) => {
  const stored = await compress('zstd');
  t.is(stored.readUInt32LE(0), 0xfd2fb528);
  const err = await t.throwsAsync(decompress(Readable.from([stored.subarray(0, stored.length - 10)]), 'x.json.zst').toArray());
  t.regex(err!.message, /^zstd: /);
});

test('compression names and ImportTable types', (t) => {
  t.is(checkCompression(undefined), 'gzip');
  t.is(checkCompression('ZSTD'), 'zstd');
  t.throws(() => checkCompression('lz4'), { message: /unknown compression "lz4": use gzip, zstd, none/ });
  t.deepEqual(COMPRESSIONS.map(importCompressionType), ['GZIP', 'ZSTD', 'NONE']);
});

/** Runs `script` (an ES module) in a Node whose PATH is `bin` alone (undefined: no PATH at all); its exit status and output. */
async function withPath(bin: string | undefined, script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-zstd-'));
  const file = path.join(dir, 'script.mts');
  await writeFile(file, script);
  const env = { ...process.env, PATH: bin };
  if (bin === undefined) delete env.PATH;
  const child = spawn(process.execPath, ['--import', 'tsx/esm', file], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let [stdout, stderr] = ['', ''];
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const [code] = await once(child, 'close');
  await rm(dir, { recursive: true, force: true });
  return { code, stdout, stderr };
}

test('no zstd program: zstd is refused as a user error, and a zstd stream made before its input fails fails its reader, not the process', async (t) => {
  const empty = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-nozstd-'));
  t.teardown(() => rm(empty, { recursive: true, force: true }));
  const result = await withPath(empty, `
    import { setTimeout as sleep } from 'node:timers/promises';
    import { Readable } from 'node:stream';
    import { checkCompression, decompress, decompressor } from ${JSON.stringify(path.join(REPO, 'lib/compression.ts'))};
    try { checkCompression('zstd'); } catch (err) { console.log(err.name, err.exitCode, err.message); }
    // As a unit makes it: then the part's read fails (gone from the store) and the stream is dropped.
    const dropped = decompressor('zstd');
    await sleep(200);
    dropped.destroy();
    const read = await decompress(Readable.from([Buffer.from('x')]), 'x.json.zst').toArray().catch((err) => err.message);
    console.log(read);
  `);
  t.is(result.code, 0, result.stderr);
  t.deepEqual(result.stdout.split('\n'), [
    'UserError 1 compression zstd needs the zstd program on PATH (apt-get install zstd): Node 20 has no zstd',
    'zstd: no zstd program on PATH (apt-get install zstd)',
    '',
  ]);
});

test.serial('a zstd stream made and dropped starts no process; one killed mid-stream says by which signal', async (t) => {
  const children = () => spawnSync('pgrep', ['-P', String(process.pid), '-x', 'zstd'], { encoding: 'utf8' }).stdout.trim();
  const dropped = compressor('zstd', 1);
  await sleep(200);
  t.is(children(), '', 'no zstd process before the stream is used');
  dropped.destroy();

  const bin = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-killedzstd-'));
  t.teardown(() => rm(bin, { recursive: true, force: true }));
  await writeFile(path.join(bin, 'zstd'), '#!/bin/sh\nkill -KILL $$\n', { mode: 0o755 });
  const result = await withPath(bin, `
    import { Readable } from 'node:stream';
    import { decompress } from ${JSON.stringify(path.join(REPO, 'lib/compression.ts'))};
    console.log(await decompress(Readable.from([Buffer.from('x')]), 'x.json.zst').toArray().catch((err) => err.message));
  `);
  t.is(result.stdout, 'zstd: killed by SIGKILL\n', result.stderr);
});

test('zstd is found on PATH as spawn finds it: an executable file in any PATH entry, not a plain file or a folder of that name', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-zstdpath-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const [plain, folder, real] = ['plain', 'folder', 'real'].map((name) => path.join(root, name));
  await mkdir(path.join(folder, 'zstd'), { recursive: true });
  await mkdir(plain);
  await writeFile(path.join(plain, 'zstd'), '#!/bin/sh\n', { mode: 0o644 });
  await mkdir(real);
  await symlink(execFileSync('sh', ['-c', 'command -v zstd'], { encoding: 'utf8' }).trim(), path.join(real, 'zstd'));
  const script = `
    import { zstdAvailable } from ${JSON.stringify(path.join(REPO, 'lib/compression.ts'))};
    console.log(zstdAvailable());
  `;
  for (const [bin, found] of [[`${plain}:${folder}`, 'false'], [`${plain}:${folder}:${real}`, 'true'], [real, 'true']] as const) {
    const result = await withPath(bin, script);
    t.is(result.stdout.trim(), found, `PATH=${bin}: ${result.stderr}`);
  }
});

test('no PATH at all: zstd is looked for where spawn looks then (/bin:/usr/bin), not in the working directory alone', async (t) => {
  const result = await withPath(undefined, `
    import { spawnSync } from 'node:child_process';
    import { zstdAvailable } from ${JSON.stringify(path.join(REPO, 'lib/compression.ts'))};
    console.log(zstdAvailable(), spawnSync('zstd', ['--version'], { stdio: 'ignore' }).status === 0);
  `);
  t.is(result.code, 0, result.stderr);
  const [found, runs] = result.stdout.trim().split(' ');
  t.is(found, runs, 'zstdAvailable() says what spawn finds');
  t.is(found, String(['/bin/zstd', '/usr/bin/zstd'].some((f) => spawnSync(f, ['--version'], { stdio: 'ignore' }).status === 0)));
});

test('a zstd on PATH that cannot be run for another reason than its absence (a symlink loop) ends the search as spawn does: not found, though a later entry has one', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-zstdloop-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const [loop, real] = ['loop', 'real'].map((name) => path.join(root, name));
  await mkdir(loop);
  await symlink(path.join(loop, 'zstd'), path.join(loop, 'zstd'));
  await mkdir(real);
  await symlink(execFileSync('sh', ['-c', 'command -v zstd'], { encoding: 'utf8' }).trim(), path.join(real, 'zstd'));
  const result = await withPath(`${loop}:${real}`, `
    import { spawnSync } from 'node:child_process';
    import { zstdAvailable } from ${JSON.stringify(path.join(REPO, 'lib/compression.ts'))};
    const run = spawnSync('zstd', ['--version'], { stdio: 'ignore' });
    console.log(zstdAvailable(), run.status === 0, run.error?.code);
  `);
  t.is(result.stdout.trim(), 'false false ELOOP', result.stderr);
});

test('zstd on every core writes the bytes of plain `zstd -1` (item files keep their sha256 on any machine)', async (t) => {
  // 24 MB of varied lines: several of zstd's multi-threaded jobs.
  let x = 1;
  const lines = Array.from({ length: 200_000 }, (_, i) => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return `{"Item":{"PK":{"S":"USER#${x}"},"SK":{"S":"JOB#${i}"},"data":{"M":{"n":{"N":"${x % 9973}"},"t":{"S":"2026-01-01T00:00:${i % 60}Z"}}}}}\n`;
  });
  const input = Buffer.from(lines.join('').repeat(2));
  const out: Buffer[] = [];
  await pipeline(Readable.from([input]), compressor('zstd', 1), async (source: AsyncIterable<Buffer>) => { for await (const c of source) out.push(c); });
  const plain = execFileSync('zstd', ['-q', '-c', '-1'], { input, maxBuffer: 1 << 30 });
  t.true(input.length > 20_000_000);
  t.true(Buffer.concat(out).equals(plain));
});

test('zstd compresses with a worker per CPU this process may use (taskset, a container\'s cpuset), not per core of the host', async (t) => {
  if (spawnSync('taskset', ['-c', '0', 'true']).status !== 0 || os.availableParallelism() < 2) return t.pass('no taskset, or one CPU');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-zstdargs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const real = execFileSync('sh', ['-c', 'command -v zstd'], { encoding: 'utf8' }).trim();
  await writeFile(path.join(dir, 'zstd'), `#!/bin/sh\necho "$*" >> ${JSON.stringify(path.join(dir, 'args'))}\nexec ${JSON.stringify(real)} "$@"\n`, { mode: 0o755 });
  await writeFile(path.join(dir, 'script.mts'), `
    import { Readable } from 'node:stream';
    import { pipeline } from 'node:stream/promises';
    import { compressor } from ${JSON.stringify(path.join(REPO, 'lib/compression.ts'))};
    await pipeline(Readable.from([Buffer.alloc(1000)]), compressor('zstd', 1), async (source) => { for await (const _ of source); });
  `);
  const run = spawnSync('taskset', ['-c', '0', process.execPath, '--import', 'tsx/esm', path.join(dir, 'script.mts')], {
    cwd: REPO, env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, encoding: 'utf8',
  });
  t.is(run.status, 0, run.stderr);
  // The host may have more cores: zstd's -T0 would start a worker for each.
  t.is((await readFile(path.join(dir, 'args'), 'utf8')).trim(), '-q -c -1 -T1');
});
