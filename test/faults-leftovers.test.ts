// Issue 20, item 9: what a killed or redone run leaves behind. A killed
// transform's temp files sit in <run>/.tmp/ (never under items/, where
// ImportTable would take them) until the next run removes them; item files
// of an older split are removed by the transform whose manifest proves them
// stale, and load names any such object with the fix.
import test from 'ava';
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { runExtract } from '../extract/extract.ts';
import { openStorage } from '../lib/storage.ts';
import { readTransformManifest } from '../lib/transform-manifest.ts';
import { checkItemObjects } from '../load/import-table.ts';
import { REPO, runCli, cliArgv } from './cli.ts';
import { recordFault, transformCounts } from './fault-table.ts';
import { freshDatabase } from './stack.ts';

async function bigTable(url: string, rows: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE TABLE big AS SELECT g AS id, 'name ' || g AS name FROM generate_series(1, ${rows}) g;
                        ALTER TABLE big ADD PRIMARY KEY (id); ANALYZE big`);
  } finally {
    await client.end();
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

test('a transform killed mid-unit leaves its temp file in <run>/.tmp/, nothing under items/, and the rerun removes it', async (t) => {
  t.timeout(300_000);
  const url = await freshDatabase(t, { load: false });
  await bigTable(url, 200_000);
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-leftovers-'));
  t.teardown(() => rm(store, { recursive: true, force: true }));
  await runExtract({ databaseUrl: url, store, run: 'r', concurrency: 1, schemas: ['public'], gzipLevel: 1, log: () => {} });
  const env = { STORE: store, RUN: 'r', UNMAPPED: 'generic' };

  const child = spawn(process.execPath, cliArgv('transform/cli.ts', ['--quiet', '--concurrency', '1']), {
    cwd: REPO, env: { ...process.env, TABLE: '', ...env }, stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let finished = false;
  void exited.then(() => { finished = true; });
  // Kill once the item file's temp file holds data: the unit is mid-write. The file is
  // written only once the part's last row is read (its lines are shuffled, transform/item-order.ts).
  const temps = async () => (await filesUnder(path.join(store, 'r'))).filter((f) => f.startsWith('.tmp/'));
  const started = Date.now();
  while (!finished && Date.now() - started < 180_000) {
    const sizes = await Promise.all((await temps()).map((f) => stat(path.join(store, 'r', f)).then((s) => s.size, () => 0)));
    if (sizes.some((s) => s > 64 * 1024)) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  t.false(finished, 'the transform was still writing');
  child.kill('SIGKILL');
  await exited;
  const left = await filesUnder(path.join(store, 'r'));
  t.is((await temps()).length, 1, `the killed writer's temp file: ${left.join(', ')}`);
  t.deepEqual(left.filter((f) => f.startsWith('items/')), [], 'nothing under items/, where ImportTable would import it');

  const rerun = await runCli('transform/cli.ts', ['--quiet'], env);
  t.is(rerun.code, 0, rerun.stderr);
  t.deepEqual(await temps(), [], 'the rerun removed the dead writer\'s temp file');
  recordFault(t, { fault: 'transform SIGKILLed mid-write (temp file left)', stage: 'transform', outcome: 'killed; rerun completed, temp file removed', ...transformCounts(rerun.stdout) });
});

test('item files of an older split are named by load with the fix, and the next transform removes them', async (t) => {
  t.timeout(300_000);
  const url = await freshDatabase(t, { load: false });
  await bigTable(url, 3_000);
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-leftovers-'));
  t.teardown(() => rm(store, { recursive: true, force: true }));
  const env = { STORE: store, RUN: 'r', UNMAPPED: 'generic' };
  const extract = (splitRows: number) => runExtract({ databaseUrl: url, store, run: 'r', concurrency: 1, schemas: ['public'], gzipLevel: 1, log: () => {}, splitRows });
  const run = openStorage(store).sub('r');
  const items = async () => (await run.list('items')).map((o) => o.key);

  await extract(1_000);
  t.is((await runCli('transform/cli.ts', ['--quiet'], env)).code, 0);
  const split = await items();
  t.true(split.length >= 3, `the 1,000-row split made several parts: ${split.join(', ')}`);

  // The extract redone with the default split: one part. Before the transform reruns, load refuses by name.
  await extract(250_000);
  const stale = split.filter((k) => !k.endsWith('/part-00000.json.gz'));
  const before = (await readTransformManifest(run))!;
  const dir = path.join(store, 'r', 'items', 'big');
  await copyFile(path.join(dir, 'part-00001.json.gz'), path.join(dir, 'part-00099.json.gz'));
  const error = await checkItemObjects(run, { ...before, tables: before.tables.map((e) => ({ ...e, parts: e.parts.slice(0, 1) })) }).then(() => undefined, (err: Error) => err.message);
  t.is(error, `${run.uri}/items/ does not match the transform manifest: ${stale.length + 1} object(s) under items/ that the transform manifest does not list (${[...stale, 'items/big/part-00099.json.gz'].join(', ')}); ImportTable would import them too: rerun make transform for this run (it removes item files no unit produces), then make load`);

  const rerun = await runCli('transform/cli.ts', [], env);
  t.is(rerun.code, 0, rerun.stderr);
  for (const key of [...stale, 'items/big/part-00099.json.gz']) t.true(rerun.stderr.includes(`removed ${key}: no unit of this run produces it`), rerun.stderr);
  t.deepEqual(await items(), ['items/big/part-00000.json.gz']);
  await t.notThrowsAsync(checkItemObjects(run, (await readTransformManifest(run))!), 'the import would now take exactly the manifest\'s items');
  recordFault(t, { fault: 'item files of an older split under items/', stage: 'transform, load', outcome: `load named ${stale.length + 1} object(s) and the fix; rerun completed, stale files removed`, ...transformCounts(rerun.stdout) });
});
