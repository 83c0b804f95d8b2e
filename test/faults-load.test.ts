// The load stage killed with SIGKILL mid-way, then rerun: batch mode (an
// upsert) ends with exactly the run's items, import mode resumes the same
// import instead of starting a second one. Both against the local stack (its
// DynamoDB Local, and its ImportTable endpoint in front of it).
import test from 'ava';
import { spawn } from 'node:child_process';
import { DescribeTableCommand, ListImportsCommand } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { openStorage } from '../lib/storage.ts';
import { writeDumpRun } from '../scripts/golden.ts';
import { runTransform } from '../transform/runner.ts';
import { REPO, runCli, cliArgv } from './cli.ts';
import { exitOutcome, recordFault } from './fault-table.ts';
import { freshBucketPrefix, randomName, scanCount, stackEnv } from './stack.ts';

const env = stackEnv();
const ddb = dynamoClient(env);
test.after.always(() => ddb.destroy());

async function fixtureRun(): Promise<{ store: string; items: number }> {
  const store = freshBucketPrefix();
  await writeDumpRun(store, 'r');
  const manifest = await runTransform({ store, run: 'r', concurrency: 1, gzipLevel: 1, unmapped: 'fail', dropExpired: false, log: () => {} });
  return { store, items: manifest.totals.items_out };
}

/** Starts the load CLI and kills it (SIGKILL) once `ready()` holds; false when it finished first. */
async function killWhen(args: string[], cliEnv: Record<string, string>, ready: () => Promise<boolean>): Promise<boolean> {
  const child = spawn(process.execPath, cliArgv('load/cli.ts', args), { cwd: REPO, env: { ...process.env, ...cliEnv, TABLE: '' }, stdio: 'ignore' });
  let finished = false;
  const exited = new Promise<void>((resolve) => child.on('exit', () => { finished = true; resolve(); }));
  const deadline = Date.now() + 60_000;
  while (!finished && Date.now() < deadline && !(await ready().catch(() => false))) await new Promise((r) => setTimeout(r, 20));
  const killed = !finished;
  if (killed) child.kill('SIGKILL');
  await exited;
  return killed;
}

test('batch load killed with SIGKILL once writing starts, then rerun, holds exactly the run\'s items', async (t) => {
  const { store, items } = await fixtureRun();
  const table = randomName('kill-batch-');
  const cliEnv = { ...env, STORE: store, RUN: 'r', DDB_TABLE: table };
  // Killed as soon as the table exists (a Scan answers): writes have begun, at concurrency 1, and are not done.
  const killed = await killWhen(['--mode', 'batch', '--concurrency', '1', '--no-ttl', '--no-deletion-protection', '--quiet'], cliEnv,
    async () => (await scanCount(ddb, table)) >= 0);
  t.true(killed, 'the load was killed mid-way');
  const partial = await scanCount(ddb, table);
  t.true(partial < items, `killed with ${partial} of ${items} items written`);
  const rerun = await runCli('load/cli.ts', ['--mode', 'batch', '--no-ttl', '--no-deletion-protection', '--quiet'], cliEnv);
  t.is(rerun.code, 0, rerun.stderr);
  t.is(await scanCount(ddb, table), items);
  const verify = await runCli('verify/cli.ts', ['--no-access-patterns', '--quiet'], cliEnv);
  t.is(verify.code, 0, verify.stderr);
  recordFault(t, { fault: `SIGKILL once the table exists (${partial} of ${items} items written)`, stage: 'load (batch)', outcome: `killed; rerun ${exitOutcome(rerun)}, verify ${exitOutcome(verify)}`, items_out: items, identical: verify.code === 0 });
});

test('import load killed with SIGKILL while it watches the import, then rerun, resumes that import', async (t) => {
  const { store, items } = await fixtureRun();
  const table = randomName('kill-import-');
  const cliEnv = { ...env, STORE: store, RUN: 'r', DDB_TABLE: table };
  const run = openStorage(store).sub('r');
  // TTL off: DynamoDB Local would delete the fixture's expired items while the test counts them.
  const killed = await killWhen(['--mode', 'import', '--poll-seconds', '0.2', '--no-ttl', '--no-deletion-protection', '--quiet'], cliEnv,
    async () => (await run.getText('load/import.json')) !== undefined);
  t.true(killed, 'the load was killed after starting the import');
  const rerun = await runCli('load/cli.ts', ['--mode', 'import', '--poll-seconds', '0.2', '--no-ttl', '--no-deletion-protection'], cliEnv);
  t.is(rerun.code, 0, rerun.stderr);
  t.regex(rerun.stderr, /resuming import/);
  const { Table } = await ddb.send(new DescribeTableCommand({ TableName: table }));
  const all = (await ddb.send(new ListImportsCommand({ TableArn: Table!.TableArn }))).ImportSummaryList ?? [];
  t.is(all.length, 1, 'one import, not two');
  t.is(await scanCount(ddb, table), items);
  recordFault(t, { fault: 'SIGKILL while watching the import', stage: 'load (import)', outcome: `killed; rerun ${exitOutcome(rerun)} (resumed the same import)`, items_out: items, identical: all.length === 1 });
});
