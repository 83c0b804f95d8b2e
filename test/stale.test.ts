// Stale stages are refused: a table extracted again after its transform is not
// loaded, planned, reported or verified from its old items, and verify refuses
// a DynamoDB table loaded from another transform than the one it checks. The
// steps are issue 15's, through the CLIs, against the local stack.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

import { openStorage } from '../lib/storage.ts';
import { writeDumpRun } from '../scripts/golden.ts';
import { runCli, type CliResult } from './cli.ts';
import { freshBucketPrefix, freshDatabase, randomName, stackEnv } from './stack.ts';
import { EXTRACT_MANIFEST_KEY } from '../lib/run-layout.ts';

const env = stackEnv();

test('a re-extracted table is refused by load, plan, report and verify until it is transformed and loaded again', async (t) => {
  const databaseUrl = await freshDatabase(t);
  const store = freshBucketPrefix();
  const tableName = randomName('stale_');
  const cliEnv = { ...env, DATABASE_URL: databaseUrl, STORE: store, RUN: 'c1', DDB_TABLE: tableName };
  const stage = (script: string, args: string[] = [], extra: Record<string, string> = {}): Promise<CliResult> =>
    runCli(script, args, { ...cliEnv, ...extra });
  const ok = (result: CliResult, what: string) => t.is(result.code, 0, `${what}: ${result.stderr}`);
  // TTL off: DynamoDB Local would otherwise expire fixture items while verify counts them.
  const load = (extra: Record<string, string> = {}) => stage('load/cli.ts', ['--mode', 'batch', '--no-ttl', '--no-deletion-protection', '--quiet'], extra);

  ok(await stage('extract/cli.ts', ['--quiet']), 'extract');
  ok(await stage('transform/cli.ts', ['--quiet']), 'transform');
  ok(await load(), 'load');
  ok(await stage('verify/cli.ts', ['--quiet']), 'verify of a current run');

  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query(`UPDATE users SET name = name || ' Y' WHERE id = (SELECT id FROM users ORDER BY id LIMIT 1)`);
  } finally {
    await db.end();
  }
  ok(await stage('extract/cli.ts', ['--quiet'], { TABLE: 'users' }), 'extract TABLE=users');

  const status = async () => {
    const result = await stage('plan/run-status-cli.ts', ['--json']);
    const parsed = JSON.parse(result.stdout) as { next?: string; tables: { name: string; extract: string; transform: string; load: string; verify: string }[] };
    return { code: result.code, next: parsed.next, of: (name: string) => parsed.tables.find((x) => x.name === name)! };
  };
  const afterExtract = await status();
  t.is(afterExtract.code, 3);
  t.like(afterExtract.of('users'), { extract: 'done', transform: 'stale', load: 'stale', verify: 'stale' });
  t.like(afterExtract.of('user_devices'), { extract: 'done', transform: 'done', load: 'done', verify: 'done' });
  t.is(afterExtract.next, 'make transform RUN=c1 TABLE=users');

  const fix = 'make transform RUN=c1 TABLE=users';
  for (const [what, result] of [
    ['load', await load()],
    ['load TABLE=users', await load({ TABLE: 'users' })],
    ['verify', await stage('verify/cli.ts', ['--quiet'])],
    ['plan', await stage('plan/cli.ts', ['--sample', '0'])],
    ['report', await stage('plan/run-report-cli.ts')],
  ] as const) {
    t.is(result.code, 1, `${what} refuses a stale transform: ${result.stderr}`);
    t.regex(result.stderr, /transform is stale for users \(extract\/users\/part-00000\.csv\.gz changed since the transform read it\)/, what);
    t.true(result.stderr.includes(fix), `${what} names the fix`);
  }
  // A table the stale one does not touch still loads on its own.
  ok(await load({ TABLE: 'user_devices' }), 'load TABLE=user_devices');

  ok(await stage('transform/cli.ts', ['--quiet'], { TABLE: 'users' }), 'transform TABLE=users');
  // Transformed but not loaded: the DynamoDB table still holds the old users.
  const unloaded = await stage('verify/cli.ts', ['--quiet']);
  t.is(unloaded.code, 1, unloaded.stderr);
  t.regex(unloaded.stderr, /users was loaded into \S+ from another transform of run c1/);
  t.true(unloaded.stderr.includes(`make load RUN=c1 DDB_TABLE=${tableName} MODE=batch TABLE=users`));

  const afterTransform = await status();
  t.like(afterTransform.of('users'), { transform: 'done', load: 'stale' });
  t.is(afterTransform.next, `make load RUN=c1 DDB_TABLE=${tableName} MODE=batch TABLE=users`);

  ok(await load({ TABLE: 'users' }), 'load TABLE=users after its transform');
  // A verify of another table alone says nothing of the reloaded users.
  ok(await stage('verify/cli.ts', ['--quiet', '--no-access-patterns'], { TABLE: 'user_devices' }), 'verify TABLE=user_devices');
  const partlyVerified = await status();
  t.like(partlyVerified.of('users'), { load: 'done', verify: 'missing' });
  t.like(partlyVerified.of('user_devices'), { verify: 'done' });
  t.is(partlyVerified.next, `make verify RUN=c1 DDB_TABLE=${tableName}`);
  const verified = await stage('verify/cli.ts', ['--quiet']);
  ok(verified, 'verify after the reload');
  t.true(JSON.parse(verified.stdout).ok);
  ok(await stage('plan/run-report-cli.ts'), 'report');
  const done = await status();
  t.is(done.code, 0);
  t.is(done.next, undefined);
  t.like(done.of('users'), { extract: 'done', transform: 'done', load: 'done', verify: 'done' });
  const human = await stage('plan/run-status-cli.ts');
  t.regex(human.stdout, /^run c1, snapshot \d{4}-\d\d-\d\dT[\d:.]+Z \(some tables re-extracted later\)/);
  t.regex(human.stdout, /every stage is done\n$/);
});

test('a table whose joined table was extracted again is stale too', async (t) => {
  const databaseUrl = await freshDatabase(t);
  const store = freshBucketPrefix();
  const cliEnv = { ...env, DATABASE_URL: databaseUrl, STORE: store, RUN: 'j1', DDB_TABLE: randomName('stale_') };
  t.is((await runCli('extract/cli.ts', ['--quiet'], cliEnv)).code, 0);
  t.is((await runCli('transform/cli.ts', ['--quiet'], cliEnv)).code, 0);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    // A real change to the joined table alone: its extract's bytes differ, the events' do not.
    await db.query(`UPDATE processing_jobs SET updated_at = updated_at + interval '1 second' WHERE id = (SELECT id FROM processing_jobs ORDER BY id LIMIT 1)`);
  } finally {
    await db.end();
  }
  t.is((await runCli('extract/cli.ts', ['--quiet'], { ...cliEnv, TABLE: 'processing_jobs' })).code, 0);
  const result = await runCli('load/cli.ts', ['--mode', 'batch', '--quiet'], { ...cliEnv, TABLE: 'processing_job_events' });
  t.is(result.code, 1, result.stderr);
  t.regex(result.stderr, /processing_job_events \(its joined table processing_jobs was extracted again since the transform read it\)/);
  t.true(result.stderr.includes('make transform RUN=j1 TABLE=processing_job_events'));
});

test('a table gone from the extract is fixed by a whole transform, the command status and the refusals name', async (t) => {
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-gone-'));
  t.teardown(() => rm(store, { recursive: true, force: true }));
  const cliEnv = { STORE: store, RUN: 'g1' };
  const extract = await writeDumpRun(store, 'g1');
  t.is((await runCli('transform/cli.ts', ['--quiet'], cliEnv)).code, 0);
  // The table was dropped from the source and the run extracted again: the extract no longer has it.
  const gone = extract.tables.find((x) => x.name === 'users')!;
  await openStorage(store).sub('g1').put(EXTRACT_MANIFEST_KEY, `${JSON.stringify({ ...extract, tables: extract.tables.filter((x) => x !== gone) }, null, 2)}\n`);
  const status = JSON.parse((await runCli('plan/run-status-cli.ts', ['--json'], cliEnv)).stdout) as { next: string };
  t.is(status.next, 'make transform RUN=g1', 'TABLE=users would be refused: the extract has no users');
  const plan = await runCli('plan/cli.ts', ['--sample', '0'], cliEnv);
  t.is(plan.code, 1, plan.stderr);
  t.true(plan.stderr.includes('users (no longer in the extract manifest): run `make transform RUN=g1`, then'), plan.stderr);
});
