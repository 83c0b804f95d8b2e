// Issue 21: every stage stops on SIGTERM (AWS Batch terminate-job, ECS
// StopTask, Spot reclaim) within seconds, says in one line what it kept and how
// to rerun, and the rerun ends with exactly what an uninterrupted run gives.
// "Mid-run" is made exact: a proxy in front of S3 or DynamoDB holds one chosen
// request unanswered (a process stuck on the network), and SIGTERM goes then.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import test, { type ExecutionContext } from 'ava';
import { DeleteTableCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { openStorage, type Storage } from '../lib/storage.ts';
import { startFaultProxy } from '../scripts/fault-proxy.ts';
import { REPO, runCli, type CliResult, cliArgv } from './cli.ts';
import { freshBucketPrefix, freshDatabase, randomName, stackEnv, runOutputs } from './stack.ts';
import { LOCKS_PREFIX } from '../lib/run-lock.ts';

const SPLIT_ROWS = '400';
/** A stage that has not exited this long after SIGTERM is killed, and the test fails on its `signal`. */
const GRACE_MS = 20_000;

type Where = 'AWS_ENDPOINT_URL_S3' | 'AWS_ENDPOINT_URL_DYNAMODB';

/**
 * Runs `script` with `where` behind a proxy that stalls the `nth` request
 * `matches` selects (1-based), sends SIGTERM once that request hangs, and
 * returns how the stage ended.
 */
async function stopMidRun(t: ExecutionContext, script: string, args: string[], env: Record<string, string>, where: Where, nth: number, matches: (method: string, path: string, target: string) => boolean): Promise<CliResult> {
  let seen = 0;
  const proxy = await startFaultProxy({
    target: stackEnv()[where]!, share: 1, faults: ['stall'],
    eligible: (method, path, headers) => matches(method, path, String(headers['x-amz-target'] ?? '')) && ++seen === nth,
  });
  t.teardown(() => proxy.close());
  const child = spawn(process.execPath, cliArgv(script, args), {
    cwd: REPO, env: { ...process.env, TABLE: '', CONCURRENCY: '', ...env, [where]: proxy.url }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  let ended = false;
  void closed.then(() => { ended = true; });
  while (!ended && proxy.stats.faulted.stall === 0) await new Promise((r) => setTimeout(r, 20));
  t.is(proxy.stats.faulted.stall, 1, `${script} ${args.join(' ')} reached the stalled request: ${stderr}`);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), GRACE_MS);
  const [code, signal] = await closed;
  clearTimeout(timer);
  return { code, signal, stdout, stderr };
}

/** Exit 143 (not killed), and the last line says what was kept (or that nothing changed) and the command that resumes. */
function stoppedCleanly(t: ExecutionContext, result: CliResult, stage: string, rerun: RegExp): void {
  t.is(result.signal, null, `${stage} exited by itself after SIGTERM: ${result.stderr}`);
  t.is(result.code, 143, result.stderr);
  const last = result.stderr.trimEnd().split('\n').at(-1)!;
  t.regex(last, new RegExp(`^${stage}: interrupted; .*(kept|nothing was changed).*rerun ${rerun.source}`), result.stderr);
}

const ok = (t: ExecutionContext, result: CliResult, what: string) => t.is(result.code, 0, `${what}: ${result.stderr}${result.stdout.slice(-2000)}`);
const isPut = (pattern: RegExp) => (method: string, path: string) => method === 'PUT' && pattern.test(path.split('?')[0]!);
const dynamo = (operation: string) => (_m: string, _p: string, target: string) => target.endsWith(`.${operation}`);

/** The run's outputs (test/stack.ts runOutputs), without the load's records. */
const outputs = (run: Storage) => runOutputs(run, (key) => key.startsWith('load/'));

/** The data files (parts and items) alone: what two snapshots of the same data share byte for byte. */
const dataFiles = (hashes: Record<string, string>) => Object.fromEntries(Object.entries(hashes).filter(([k]) => /^(extract|items)\/.*\.gz$/.test(k)));

async function tableContents(tableName: string): Promise<string[]> {
  const items: string[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamoClient().send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: ExclusiveStartKey as never }));
    for (const item of page.Items ?? []) items.push(JSON.stringify(Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : 1)))));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items.sort();
}

test('SIGTERM mid-run stops every stage cleanly, naming what it kept and the rerun, and the reruns give an uninterrupted run\'s bytes and table', async (t) => {
  t.timeout(600_000);
  const url = await freshDatabase(t, { scale: 0.004 });
  const store = freshBucketPrefix();
  const env = { DATABASE_URL: url, STORE: store, RUN: 'sig' };
  const run = openStorage(store).sub('sig');
  const quiet = ['--quiet', '--concurrency', '1'];
  const dropTable = (name: string) => t.teardown(async () => { await dynamoClient().send(new DeleteTableCommand({ TableName: name })).catch(() => {}); });

  // The snapshot coordinator, and the reference: every stage uninterrupted.
  const coordinator = spawn(process.execPath, cliArgv('extract/cli.ts', ['snapshot', '--hold', '--split-rows', SPLIT_ROWS, '--quiet']), {
    cwd: REPO, env: { ...process.env, TABLE: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => { coordinator.kill('SIGKILL'); });
  let coordinatorErr = '';
  coordinator.stderr.on('data', (d) => (coordinatorErr += d));
  const [firstLine] = await once(coordinator.stdout, 'data');
  const snapshot = JSON.parse(String(firstLine)).snapshot_id as string;
  for (const shard of ['1/2', '2/2']) ok(t, await runCli('extract/cli.ts', ['--shard', shard, ...quiet], env), `extract ${shard}`);
  ok(t, await runCli('extract/cli.ts', ['finalize', '--quiet'], env), 'extract finalize');
  for (const shard of ['1/2', '2/2']) ok(t, await runCli('transform/cli.ts', ['--shard', shard, ...quiet], env), `transform ${shard}`);
  ok(t, await runCli('transform/cli.ts', ['finalize', '--quiet'], env), 'transform finalize');
  const reference = await outputs(run);
  t.true(Object.keys(reference).filter((k) => k.startsWith('items/')).length >= 8, 'several item files');
  const referenceTable = randomName('sig_');
  dropTable(referenceTable);
  // No TTL: DynamoDB Local would delete the fixture's expired items while the test compares tables.
  const load = ['--quiet', '--mode', 'batch', '--no-deletion-protection', '--no-ttl', '--concurrency', '1'];
  ok(t, await runCli('load/cli.ts', [...load, '--ddb-table', referenceTable], env), 'load');
  for (const { key } of await run.list('')) if (key !== 'extract/plan.json' && !key.startsWith('.locks/')) await run.delete(key);

  // Extract shard: stopped while its second part is being stored; its rerun copies again to the same bytes.
  const part = isPut(/\/extract\/[^/]+\/part-\d+\.csv\.gz$/);
  stoppedCleanly(t, await stopMidRun(t, 'extract/cli.ts', ['--shard', '1/2', ...quiet], env, 'AWS_ENDPOINT_URL_S3', 2, part), 'extract', /make extract RUN=sig( STORE=\S+)? SHARD=1\/2/);
  t.is((await run.list('extract/shards')).length, 0, 'a stopped shard leaves no fragment');
  for (const shard of ['1/2', '2/2']) ok(t, await runCli('extract/cli.ts', ['--shard', shard, ...quiet], env), `extract ${shard} rerun`);
  // Extract finalize: stopped while the manifest is being stored.
  stoppedCleanly(t, await stopMidRun(t, 'extract/cli.ts', ['finalize', '--quiet'], env, 'AWS_ENDPOINT_URL_S3', 1, isPut(/\/extract\/manifest\.json$/)), 'extract', /make finalize RUN=sig( STORE=\S+)? STAGE=extract/);
  t.is(await run.getText('extract/manifest.json'), undefined, 'no manifest from a stopped finalize');
  const { lock: coordinatorLock } = JSON.parse((await run.getText('extract/plan.json'))!);
  t.deepEqual((await run.list(LOCKS_PREFIX)).map((o) => o.key), [coordinatorLock], 'a stopped finalize leaves no lock (its coordinator holds its own)');
  ok(t, await runCli('extract/cli.ts', ['finalize', '--quiet'], env), 'extract finalize rerun');

  // Transform shard and finalize, the same way.
  const items = isPut(/\/items\/[^/]+\/part-\d+\.json\.gz$/);
  stoppedCleanly(t, await stopMidRun(t, 'transform/cli.ts', ['--shard', '2/2', ...quiet], env, 'AWS_ENDPOINT_URL_S3', 2, items), 'transform', /make transform RUN=sig( STORE=\S+)? SHARD=2\/2/);
  for (const shard of ['1/2', '2/2']) ok(t, await runCli('transform/cli.ts', ['--shard', shard, ...quiet], env), `transform ${shard} rerun`);
  stoppedCleanly(t, await stopMidRun(t, 'transform/cli.ts', ['finalize', '--quiet'], env, 'AWS_ENDPOINT_URL_S3', 1, isPut(/\/transform\/manifest\.json$/)), 'transform', /make finalize RUN=sig( STORE=\S+)? STAGE=transform/);
  t.is(await run.getText('transform/manifest.json'), undefined, 'no manifest from a stopped finalize');
  ok(t, await runCli('transform/cli.ts', ['finalize', '--quiet'], env), 'transform finalize rerun');
  t.deepEqual(await outputs(run), reference, 'after the stopped stages and their reruns, every byte as in the uninterrupted run');

  // Load (batch): stopped while its second BatchWriteItem hangs; the rerun upserts to the same table contents.
  const table = randomName('sig_');
  dropTable(table);
  stoppedCleanly(t, await stopMidRun(t, 'load/cli.ts', [...load, '--ddb-table', table], env, 'AWS_ENDPOINT_URL_DYNAMODB', 2, dynamo('BatchWriteItem')), 'load', new RegExp(`make load RUN=sig( STORE=\\S+)? DDB_TABLE=${table} to finish`));
  ok(t, await runCli('load/cli.ts', [...load, '--ddb-table', table], env), 'load rerun');
  const [loaded, expected] = [await tableContents(table), await tableContents(referenceTable)];
  const expectedSet = new Set(expected);
  const loadedSet = new Set(loaded);
  t.true(loaded.length === expected.length && loaded.every((item, i) => item === expected[i]),
    `the table equals the uninterrupted load's, item for item: ${loaded.length} vs ${expected.length} items, ${loaded.filter((i) => !expectedSet.has(i)).length} extra, ${expected.filter((i) => !loadedSet.has(i)).length} missing; e.g. ${loaded.find((i) => !expectedSet.has(i))?.slice(0, 200)} / ${expected.find((i) => !loadedSet.has(i))?.slice(0, 200)}`);

  // Verify: stopped on its first Scan (it reads the table by Scan since issue 16); it only reads, and the rerun passes every check.
  const verify = ['--quiet', '--ddb-table', table, '--concurrency', '1'];
  stoppedCleanly(t, await stopMidRun(t, 'verify/cli.ts', verify, env, 'AWS_ENDPOINT_URL_DYNAMODB', 1, dynamo('Scan')), 'verify', /make verify RUN=sig( STORE=\S+)?/);
  ok(t, await runCli('verify/cli.ts', verify, env), 'verify rerun');

  // The coordinator: SIGTERM is its normal end (exit 0); it says the snapshot is released and what a rerun needs.
  coordinator.kill('SIGTERM');
  const [code] = await once(coordinator, 'exit');
  t.is(code, 0, coordinatorErr);
  t.deepEqual(await run.list(LOCKS_PREFIX), [], 'the stopped coordinator leaves no lock');
  t.regex(coordinatorErr.trimEnd().split('\n').at(-1)!, new RegExp(`^extract: stopped; snapshot ${snapshot} released, .*kept; .*start a new coordinator \\(make snapshot RUN=sig( STORE=\\S+)?\\) and rerun every shard$`));

  // Unsharded extract and transform of the same data (a snapshot of their own): stopped mid-way, rerun, the same parts and items.
  const singleEnv = { ...env, RUN: 'single' };
  const single = openStorage(store).sub('single');
  const extractArgs = ['--split-rows', SPLIT_ROWS, ...quiet];
  stoppedCleanly(t, await stopMidRun(t, 'extract/cli.ts', extractArgs, singleEnv, 'AWS_ENDPOINT_URL_S3', 2, part), 'extract', /make extract RUN=single( STORE=\S+)?/);
  // Released before the exit: a rerun on another host (a retried task) need not wait for it to go stale.
  t.deepEqual(await single.list(LOCKS_PREFIX), [], 'a stopped extract leaves no lock');
  ok(t, await runCli('extract/cli.ts', extractArgs, singleEnv), 'unsharded extract rerun');
  stoppedCleanly(t, await stopMidRun(t, 'transform/cli.ts', quiet, singleEnv, 'AWS_ENDPOINT_URL_S3', 2, items), 'transform', /make transform RUN=single( STORE=\S+)?/);
  ok(t, await runCli('transform/cli.ts', quiet, singleEnv), 'unsharded transform rerun');
  t.deepEqual(dataFiles(await outputs(single)), dataFiles(reference), 'unsharded parts and items after a stop and rerun = the sharded uninterrupted ones');
});
