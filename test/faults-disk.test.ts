// Issue 5, faults 6: the local store fills up (a tiny tmpfs, when this process
// may mount one: root in CI) or turns unwritable mid-run (a directory made
// read-only once the first part is published, for a non-root user). The extract
// fails in one line naming the file, publishes no manifest, leaves no temp
// file, and every file it did publish is complete.
import test, { type ExecutionContext } from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm, statfs, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { REPO, runCli, cliArgv } from './cli.ts';
import { exitOutcome, recordFault, transformCounts } from './fault-table.ts';
import { freshDatabase } from './stack.ts';

function tryMountTmpfs(dir: string, size: string): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

test('a store that fills up or turns read-only mid-extract: one-line error naming the file, no manifest, nothing incomplete left', async (t) => {
  t.timeout(60_000);
  const url = await freshDatabase(t);
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-disk-'));
  // 48 KB: the write check and a few tables fit; the fixture's ~100 KB of gzip does not.
  const mounted = tryMountTmpfs(store, '48k');
  t.teardown(async () => {
    if (mounted) execFileSync('umount', ['-l', store], { stdio: 'ignore' });
    await chmod(store, 0o755).catch(() => {});
    await rm(store, { recursive: true, force: true });
  });

  const child = spawn(process.execPath, cliArgv('extract/cli.ts', ['--quiet', '--concurrency', '2']), {
    cwd: REPO, env: { ...process.env, DATABASE_URL: url, STORE: store, RUN: 'r', TABLE: '' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  if (!mounted) {
    // No tmpfs: make every table directory read-only once the first part is published.
    const extractDir = path.join(store, 'r', 'extract');
    let done = false;
    void exited.then(() => { done = true; });
    const started = Date.now();
    while (!done && Date.now() - started < 30_000 && !(await filesUnder(extractDir)).some((f) => f.endsWith('.csv.gz'))) {
      await new Promise((r) => setTimeout(r, 1));
    }
    await chmod(extractDir, 0o555);
    for (const d of await readdir(extractDir).catch(() => [] as string[])) await chmod(path.join(extractDir, d), 0o555).catch(() => {});
  }
  const code = await exited;
  t.is(code, 1, stderr);
  t.is(stderr.trim().split('\n').length, 1, stderr);
  t.regex(stderr, mounted
    ? /^extract: error: table \S+: cannot write file:\/\/\S+\/r\/extract\/\S+\/part-00000\.csv\.gz: no space left on device \(ENOSPC\): free space on the file system of \S+ and rerun\n$/
    : /^extract: error: table \S+: cannot write file:\/\/\S+\/r\/extract\/\S+\/part-00000\.csv\.gz: permission denied \(EACCES\): make \S+ writable and rerun\n$/);

  const left = await filesUnder(path.join(store, 'r'));
  t.false(left.includes('extract/manifest.json'), 'no manifest');
  t.deepEqual(left.filter((f) => f.startsWith('.tmp/')), [], 'no temp file left');
  for (const file of left) {
    t.notThrows(() => gunzipSync(readFileSync(path.join(store, 'r', file))), `${file} is complete gzip`);
  }
  t.log(mounted ? 'tmpfs of 48 KB' : 'read-only directory', `${left.length} complete part(s) published before the failure`);
  recordFault(t, {
    fault: mounted ? 'disk full (48 KB tmpfs)' : 'store turned read-only mid-run', stage: 'extract',
    outcome: `${exitOutcome({ code, stderr }, { [store]: '<store>' })} (${left.length} complete part(s) kept)`,
  });
});

/** Mounts a tmpfs of `size` on `dir` (unmounted when the test ends), or fails the test: never a silent skip. */
function mountTmpfs(t: ExecutionContext, dir: string, size: string): void {
  if (!tryMountTmpfs(dir, size)) {
    throw new Error(`cannot mount a tmpfs on ${dir}: this test needs root (as CI runs it) and mount(8)`);
  }
  // Registered after the rm of `dir` so it runs first (ava runs teardowns last in, first out).
  t.teardown(() => { execFileSync('umount', ['-l', dir], { stdio: 'ignore' }); });
}

/**
 * Issue 20, item 5: the item files of a 200k-row table cannot be written (the
 * store fills up, or is read-only) while the unit is still reading its input.
 * The transform used to wait forever for the dead stream to ask for more
 * (a hang with worker threads, exit 13 and no message without).
 */
const transformCannotWrite = test.macro(async (t, concurrency: number, fault: 'full' | 'read-only') => {
  t.timeout(600_000);
  const url = await freshDatabase(t, { load: false });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`CREATE TABLE big AS SELECT g AS id, 'name ' || g AS name, g * 7 AS score FROM generate_series(1, 200000) g;
                      ALTER TABLE big ADD PRIMARY KEY (id); ANALYZE big`);
  await client.end();
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-disk-transform-'));
  t.teardown(() => rm(store, { recursive: true, force: true }));
  mountTmpfs(t, store, '7m');
  const env = { DATABASE_URL: url, STORE: store, RUN: 'r', UNMAPPED: 'generic' };
  // Two parts, so two units: with concurrency 2 each runs in a worker thread.
  const extract = await runCli('extract/cli.ts', ['--quiet', '--split-rows', '100000'], env);
  t.is(extract.code, 0, extract.stderr);

  const filler = path.join(store, 'filler');
  if (fault === 'full') {
    // Leave 256 KB: the item file (megabytes) runs out of room early in the unit.
    const { bavail, bsize } = await statfs(store);
    await writeFile(filler, Buffer.alloc(Math.max(0, bavail * bsize - 256 * 1024)));
  } else {
    execFileSync('mount', ['-o', 'remount,ro', store]);
  }
  // Killed after 4 minutes: ample on a busy machine, and a hang is forever. The write starts once
  // the part's 200k rows are read (its lines are shuffled, transform/item-order.ts).
  const result = await runCli('transform/cli.ts', ['--quiet', '--concurrency', String(concurrency)], env, 240_000);
  t.is(result.signal, null, `transform hung and was killed: ${result.stderr}`);
  t.is(result.code, 1, result.stderr);
  t.is(result.stderr.trim().split('\n').length, 1, result.stderr);
  t.regex(result.stderr, fault === 'full'
    ? /^transform: error: cannot write file:\/\/\S+\/r\/items\/big\/part-0000[01]\.json\.gz: no space left on device \(ENOSPC\): free space on the file system of \S+ and rerun\n$/
    : /^transform: error: cannot write file:\/\/\S+\/r\/\S+: read-only file system \(EROFS\): make \S+ writable and rerun\n$/);

  // Room again (the items of 200k rows need more than 7 MB): the rerun finishes the job.
  if (fault === 'full') await rm(filler);
  execFileSync('mount', ['-o', 'remount,rw,size=64m', store]);
  const rerun = await runCli('transform/cli.ts', ['--quiet', '--concurrency', String(concurrency)], env, 240_000);
  t.is(rerun.code, 0, rerun.stderr);
  t.like(JSON.parse(rerun.stdout), { totals: { rows_in: 200_000, items_out: 200_000 } });
  recordFault(t, {
    fault: `${fault === 'full' ? 'disk full (7 MB tmpfs)' : 'store remounted read-only'} under a transform, concurrency ${concurrency}`, stage: 'transform',
    outcome: `${exitOutcome(result, { [store]: '<store>' })}; rerun ${exitOutcome(rerun)}`, ...transformCounts(rerun.stdout),
  });
});

test('a full store under a transform (concurrency 1): one-line error naming the item file, no hang; a rerun with room completes', transformCannotWrite, 1, 'full');
test('a full store under a transform (concurrency 2, worker threads): one-line error naming the item file, no hang; a rerun with room completes', transformCannotWrite, 2, 'full');
test('a store remounted read-only under a transform: one-line error naming the file, no hang; a rerun completes', transformCannotWrite, 2, 'read-only');
