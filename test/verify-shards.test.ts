// Issue 16: verify sharded across processes (as machines would run it) gives
// the verdict, counts and first differences of one process, and a shard that
// never reported is named by finalize and rerun alone.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import test, { type ExecutionContext } from 'ava';
import { DeleteItemCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { openStorage } from '../lib/storage.ts';
import { fromItemValue, toItemValue, type ItemJson } from '../model/attribute-json.ts';
import { itemKey, keyHash } from '../lib/item-files.ts';
import { runLoad } from '../load/load.ts';
import { DEFAULT_SETTINGS } from '../model/table-spec.ts';
import { writeDumpRun } from '../scripts/golden.ts';
import { runTransform } from '../transform/runner.ts';
import { REPO, runCli, type CliResult, cliArgv } from './cli.ts';
import { freshBucketPrefix, randomName, stackEnv } from './stack.ts';

const quiet = () => {};
type Report = { ok: boolean; checks: { name: string; ok: boolean; numbers: Record<string, number>; failures: Record<string, unknown>[] }[] };

/** A run loaded into its own table, then damaged three ways: one item changed, one deleted, one stray added. */
async function damagedRun(): Promise<{ env: Record<string, string>; changed: ItemJson; deleted: ItemJson; stray: ItemJson }> {
  const env = stackEnv();
  const store = freshBucketPrefix();
  await writeDumpRun(store, 'r');
  await runTransform({ store, run: 'r', concurrency: 2, gzipLevel: 1, unmapped: 'fail', dropExpired: false, log: quiet });
  const tableName = randomName('vshard_');
  await runLoad({ store, run: 'r', tableName, mode: 'batch', concurrency: 4, settings: { ...DEFAULT_SETTINGS, deletionProtection: false, ttl: false }, log: quiet });
  const client = dynamoClient();
  const items = (await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }))).Items!.map(fromItemValue);
  const ofType = (type: string) => items.filter((i) => (i.entity_type as { S: string }).S === type).sort((a, b) => (itemKey(a) < itemKey(b) ? -1 : 1));
  const changed = ofType('session')[0]!;
  await client.send(new PutItemCommand({ TableName: tableName, Item: toItemValue({ ...changed, updated_at: { S: '1999-01-01T00:00:00.000000Z' } }) }));
  const deleted = ofType('consent')[1]!;
  await client.send(new DeleteItemCommand({ TableName: tableName, Key: toItemValue({ PK: deleted.PK!, SK: deleted.SK! }) }));
  const stray: ItemJson = { PK: { S: 'USER#00000000-0000-4000-8000-000000000bad' }, SK: { S: 'DEVICE#x' }, entity_type: { S: 'device' } };
  await client.send(new PutItemCommand({ TableName: tableName, Item: toItemValue(stray) }));
  return { env: { ...env, STORE: store, RUN: 'r', DDB_TABLE: tableName }, changed, deleted, stray };
}

const verify = (args: string[], env: Record<string, string>) => runCli('verify/cli.ts', ['--no-access-patterns', '--concurrency', '2', ...args], env);

function verdict(t: ExecutionContext, result: CliResult, what: string): Report['checks'] {
  t.is(result.code, 1, `${what} fails on the damaged table: ${result.stderr}`);
  return (JSON.parse(result.stdout) as Report).checks;
}

async function clearFragments(env: Record<string, string>): Promise<void> {
  const run = openStorage(env.STORE!).sub('r');
  for (const { key } of await run.list('verify/shards')) await run.delete(key);
}

test('verify in 1, 2 and 4 concurrent shards, then finalize, gives the unsharded verdict, counts and first differences', async (t) => {
  t.timeout(300_000);
  const { env, changed, deleted, stray } = await damagedRun();
  const unsharded = await verify(['--json'], env);
  t.regex(unsharded.stderr, /will read the whole table: \d+ items, [\d.]+ GB .*; strongly consistent \d+ read units (\$[\d.]+|no price), eventually consistent \d+ /);
  const whole = verdict(t, unsharded, 'unsharded verify');
  const check = (prefix: string) => whole.find((c) => c.name.startsWith(prefix))!;
  t.like(check('every item').numbers, { missing: 1, differing: 1 });
  t.like(check('every item').failures.find((f) => f.problem === 'differs'), { key_hash: keyHash(itemKey(changed)), attributes: ['updated_at'], table: 'user_sessions' });
  t.like(check('every item').failures.find((f) => f.problem === 'missing'), { key_hash: keyHash(itemKey(deleted)), table: 'consent_records' });
  t.deepEqual(check('no item').failures, [{ problem: 'stray', entity_type: 'device', key_hash: keyHash(itemKey(stray)) }]);

  for (const n of [1, 2, 4]) {
    await clearFragments(env);
    // Four shards read eventually consistent: after the load nothing writes the table, so the verdict is the same.
    const consistency = n === 4 ? ['--consistency', 'eventual'] : [];
    const shards = await Promise.all(Array.from({ length: n }, (_, i) => verify(['--shard', `${i + 1}/${n}`, '--json', ...consistency], env)));
    shards.forEach((r, i) => t.is(r.code, 0, `shard ${i + 1}/${n}: ${r.stderr}`));
    t.regex(shards[0]!.stderr, new RegExp(`will read shard 1/${n}'s share of the table: .*reading ${n === 4 ? 'eventually' : 'strongly'} consistent`));
    const reads = shards.map((r) => JSON.parse(r.stdout) as { items_scanned: number; item_files: number });
    t.is(reads.reduce((s, r) => s + r.item_files, 0), 16, `${n} shards read every item file once`);
    const finalized = await verify(['finalize', '--json'], env);
    t.deepEqual(verdict(t, finalized, `finalize of ${n}`), whole, `${n} shard(s) = one process`);
    t.is(JSON.parse(finalized.stdout).consistency, n === 4 ? 'eventual' : 'strong', 'the report says how the shards read');
  }

  // Fragments of another shard count are refused, not mixed in.
  const extra = await verify(['--shard', '1/3', '--quiet'], env);
  t.is(extra.code, 0, extra.stderr);
  const mixed = await verify(['finalize'], env);
  t.is(mixed.code, 1);
  t.regex(mixed.stderr, /several shard counts \(3, 4\)|several shard counts \(4, 3\)/);
});

test('a shard killed before it reported is named by make finalize STAGE=verify; rerun alone, finalize completes', async (t) => {
  t.timeout(300_000);
  const { env } = await damagedRun();
  const whole = verdict(t, await verify(['--json'], env), 'unsharded verify');
  // An earlier verify of shard 2/2 left its fragment: the killed rerun below must not let finalize merge it.
  t.is((await verify(['--shard', '2/2', '--quiet'], env)).code, 0);
  t.is((await verify(['--shard', '1/2', '--quiet'], env)).code, 0);

  // Shard 2/2 dies once it has started reading.
  const child = spawn(process.execPath, cliArgv('verify/cli.ts', ['--no-access-patterns', '--concurrency', '2', '--shard', '2/2']), {
    cwd: REPO, env: { ...process.env, TABLE: '', ...env }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = once(child, 'exit');
  for await (const chunk of child.stderr!) if (String(chunk).includes('scanning')) break;
  child.kill('SIGKILL');
  await exited;

  const make = (args: string) => new Promise<CliResult>((resolve) => {
    const p = spawn('make', ['-s', '-o', 'node_modules/.installed', 'finalize', 'STAGE=verify', `ARGS=--no-access-patterns ${args}`], { cwd: REPO, env: { ...process.env, TABLE: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const gap = await make('');
  t.not(gap.code, 0, 'finalize refuses a verify with a shard missing');
  t.regex(gap.stderr, /shard\(s\) 2\/2 of 2 did not report; rerun them \(make verify SHARD=2\/2\)/);

  t.is((await verify(['--shard', '2/2', '--quiet'], env)).code, 0, 'shard 2/2 rerun');
  const done = await make('--json');
  t.is(done.code, 2, `make reports verify's failing checks as an error: ${done.stderr}`);
  t.deepEqual((JSON.parse(done.stdout) as Report).checks, whole);

  // An unsharded verify since: a finalize of the older fragments would overwrite its verdict, refused.
  t.is((await verify(['--quiet'], env)).code, 1);
  const superseded = await verify(['finalize'], env);
  t.is(superseded.code, 1);
  t.regex(superseded.stderr, /verify fragment verify\/shards\/shard-0*1-of-0*2\.json is of a verify begun at .*, before the unsharded verify of /);

  // The table loaded again after the shards read it: their fragments are stale, refused.
  await runLoad({ store: env.STORE!, run: 'r', tableName: env.DDB_TABLE!, mode: 'batch', concurrency: 4, settings: { ...DEFAULT_SETTINGS, deletionProtection: false, ttl: false }, log: quiet });
  const stale = await verify(['finalize'], env);
  t.is(stale.code, 1);
  t.regex(stale.stderr, /verify fragment verify\/shards\/shard-0*1-of-0*2\.json is of a verify begun at .*, before the load of /);
});
