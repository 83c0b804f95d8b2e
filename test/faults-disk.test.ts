// Issue 5, faults 6: the local store fills up (a tiny tmpfs, when this process
// may mount one: root in CI) or turns unwritable mid-run (a directory made
// read-only once the first part is published, for a non-root user). The extract
// fails in one line naming the file, publishes no manifest, leaves no temp
// file, and every file it did publish is complete.
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { REPO } from './cli.ts';
import { exitOutcome, recordFault } from './fault-table.ts';
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

  const child = spawn(process.execPath, ['--import', 'tsx/esm', 'extract/cli.ts', '--quiet', '--concurrency', '2'], {
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
    ? /^extract: error: table \S+: cannot write file:\/\/\S+\/r\/extract\/\S+\/part-00000\.csv\.gz: no space left on device \(ENOSPC\)\n$/
    : /^extract: error: table \S+: cannot write file:\/\/\S+\/r\/extract\/\S+\/part-00000\.csv\.gz: permission denied \(EACCES\)\n$/);

  const left = await filesUnder(path.join(store, 'r'));
  t.false(left.includes('extract/manifest.json'), 'no manifest');
  t.deepEqual(left.filter((f) => /\.tmp-\d+-[0-9a-f]{8}$/.test(f)), [], 'no temp file left');
  for (const file of left) {
    t.notThrows(() => gunzipSync(readFileSync(path.join(store, 'r', file))), `${file} is complete gzip`);
  }
  t.log(mounted ? 'tmpfs of 48 KB' : 'read-only directory', `${left.length} complete part(s) published before the failure`);
  recordFault(t, {
    fault: mounted ? 'disk full (48 KB tmpfs)' : 'store turned read-only mid-run', stage: 'extract',
    outcome: `${exitOutcome({ code, stderr }, { [store]: '<store>' })} (${left.length} complete part(s) kept)`,
  });
});
