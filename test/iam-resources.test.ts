// Every S3 and DynamoDB request each stage sends, recorded on the stack
// through proxies that fault nothing, is allowed by that stage's generated IAM
// policy (plan/iam-policy.ts), resource and all. plan/iam-policy.test.ts reads
// the code for the actions a stage calls, not for the keys: it missed the
// extract lock's `.locks/extract/*`, outside the `extract/*` the policy
// allowed, which AWS would have refused on the first extract. Catchup and
// cutover follow a replication slot: their test's PostgreSQL has
// wal_level=logical (test/logical-postgres.ts).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import test from 'ava';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { stagePolicy, type PolicyDocument, type Stage } from '../plan/iam-policy.ts';
import { startFaultProxy } from '../scripts/fault-proxy.ts';
import { REPO, runCli, cliArgv } from './cli.ts';
import { followableDatabase, logicalPostgres } from './logical-postgres.ts';
import { freshBucketPrefix, freshDatabase, randomName, stackEnv } from './stack.ts';
import pg from 'pg';

let logical: Awaited<ReturnType<typeof logicalPostgres>> | undefined;
test.before(async () => { logical = await logicalPostgres('iam-catchup-pg'); });
test.after.always(async () => { await logical?.stop(); });

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try { return await fn(c); } finally { await c.end(); }
}

/** `table`: the DynamoDB table the stage was run for (its policy names it). */
interface AwsRequest { stage: Stage; table?: string; action: string; arn: string; prefix?: string }

/** The IAM action and resource of a path-style S3 request, as AWS authorizes it. */
function authorized(method: string, path: string, bucket: string): Omit<AwsRequest, 'stage' | 'table'> {
  const u = new URL(path, 'http://s3');
  const key = decodeURIComponent(u.pathname).replace(/^\/[^/]+\/?/, '');
  const q = u.searchParams;
  if (key === '') {
    if (method === 'POST' && q.has('delete')) return { action: 's3:DeleteObject', arn: `arn:aws:s3:::${bucket}/*` };
    if (q.has('location')) return { action: 's3:GetBucketLocation', arn: `arn:aws:s3:::${bucket}` };
    // ListObjectsV2, and HeadBucket (authorized as ListBucket).
    return { action: 's3:ListBucket', arn: `arn:aws:s3:::${bucket}`, prefix: q.get('prefix') ?? undefined };
  }
  const arn = `arn:aws:s3:::${bucket}/${key}`;
  if (method === 'DELETE') return { action: q.has('uploadId') ? 's3:AbortMultipartUpload' : 's3:DeleteObject', arn };
  if (method === 'PUT' || method === 'POST') return { action: 's3:PutObject', arn }; // PutObject, multipart create, part, complete
  return { action: 's3:GetObject', arn }; // GET, HEAD
}

/** The policies' region and account (policyOf), in place of DynamoDB Local's. */
const DDB_ARN = 'arn:aws:dynamodb:us-east-1:111122223333:';

/**
 * The IAM action and resources of a DynamoDB request (its x-amz-target and
 * JSON body): the table it names (and the index it queries), each table of a
 * batch, the resource or import ARN it gives; `*` for the calls that name none
 * (ListImports).
 */
function dynamoAuthorized(headers: Record<string, string | string[] | undefined>, body: Buffer): Omit<AwsRequest, 'stage' | 'table'>[] {
  const action = `dynamodb:${String(headers['x-amz-target']).split('.')[1]}`;
  const input = JSON.parse(body.toString('utf8') || '{}') as {
    TableName?: string; IndexName?: string; RequestItems?: Record<string, unknown>; ResourceArn?: string; ImportArn?: string;
    TableCreationParameters?: { TableName: string };
  };
  const table = (name: string) => `${DDB_ARN}table/${name}`;
  const arns = [
    ...(input.TableName ? [input.IndexName ? `${table(input.TableName)}/index/${input.IndexName}` : table(input.TableName)] : []),
    ...Object.keys(input.RequestItems ?? {}).map(table),
    ...[input.ResourceArn, input.ImportArn].filter((a): a is string => !!a).map((a) => a.replace(/^arn:aws:dynamodb:[^:]*:[^:]*:/, DDB_ARN)),
    ...(input.TableCreationParameters ? [table(input.TableCreationParameters.TableName)] : []),
  ];
  return (arns.length > 0 ? arns : ['*']).map((arn) => ({ action, arn }));
}

const glob = (pattern: string, value: string) =>
  new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*')}$`).test(value);

function allows(policy: PolicyDocument, request: AwsRequest): boolean {
  return policy.Statement.some((s) => s.Action.includes(request.action) && s.Resource.some((r) => glob(r, request.arn)) && (() => {
    const prefixes = (s.Condition as { StringLikeIfExists?: Record<string, string[]> } | undefined)?.StringLikeIfExists?.['s3:prefix'];
    return !prefixes || request.prefix === undefined || prefixes.some((p) => glob(p, request.prefix!));
  })());
}

/**
 * A fresh store, and the stack's DynamoDB, behind proxies that record each
 * request as sent by stage `current` (for `table`); `env` runs the CLIs
 * through them.
 */
async function recordingStore(t: { teardown(fn: () => Promise<void>): void }, url: string) {
  const bucket = stackEnv().S3_BUCKET!;
  const store = freshBucketPrefix();
  const recorded = { requests: [] as AwsRequest[], current: 'extract' as Stage, table: undefined as string | undefined };
  const proxy = await startFaultProxy({
    target: stackEnv().AWS_ENDPOINT_URL_S3!, share: 0, faults: [],
    onRequest: ({ method, path }) => { recorded.requests.push({ stage: recorded.current, table: recorded.table, ...authorized(method, path, bucket) }); },
  });
  t.teardown(() => proxy.close());
  const dynamo = await startFaultProxy({
    target: stackEnv().AWS_ENDPOINT_URL_DYNAMODB!, share: 0, faults: [],
    onRequestBody: ({ headers, body }) => {
      for (const r of dynamoAuthorized(headers, body)) recorded.requests.push({ stage: recorded.current, table: recorded.table, ...r });
    },
  });
  t.teardown(() => dynamo.close());
  return { store, recorded, env: { DATABASE_URL: url, AWS_ENDPOINT_URL_S3: proxy.url, AWS_ENDPOINT_URL_DYNAMODB: dynamo.url, STORE: store, RUN: 'r' } };
}

/** Each request its stage's policy refuses, once, as `stage: action resource (prefix)`. */
const refusedOf = (store: string, requests: AwsRequest[]) => [...new Set(requests.filter((r) => !allows(policyOf(store, r.stage, r.table), r))
  .map((r) => `${r.stage}: ${r.action} ${r.arn}${r.prefix !== undefined ? ` (prefix ${r.prefix})` : ''}`))];

/** The stage policy for run `r` of `store` (table `any` for the stages that name none). */
const policyOf = (store: string, stage: Stage, table = 'any') =>
  stagePolicy({ store, run: 'r', table, region: 'us-east-1', accountId: '111122223333', loadMode: 'both' }, stage);

test('every S3 and DynamoDB request of extract (whole, TABLE=, sharded), transform, load and verify is allowed by its stage\'s policy, resource and all', async (t) => {
  t.timeout(300_000);
  const url = await freshDatabase(t, { scale: 0.001 });
  const { store, recorded, env } = await recordingStore(t, url);
  const ok = async (script: string, args: string[], extra: Record<string, string> = {}) => {
    const result = await runCli(script, args, { ...env, ...extra });
    t.is(result.code, 0, `${script} ${args.join(' ')}: ${result.stderr}`);
  };

  // Extract: a sharded one (its coordinator's lock and plan), then whole (retiring the plan), then TABLE=.
  const coordinator = spawn(process.execPath, cliArgv('extract/cli.ts', ['snapshot', '--hold', '--quiet']), { cwd: REPO, env: { ...process.env, TABLE: '', ...env }, stdio: ['ignore', 'pipe', 'ignore'] });
  t.teardown(() => { coordinator.kill('SIGKILL'); });
  await once(coordinator.stdout, 'data');
  await ok('extract/cli.ts', ['--shard', '1/1', '--quiet']);
  await ok('extract/cli.ts', ['finalize', '--quiet']);
  coordinator.kill('SIGTERM');
  await once(coordinator, 'exit');
  await ok('extract/cli.ts', ['--quiet']);
  await ok('extract/cli.ts', ['--quiet'], { TABLE: 'users' });
  recorded.current = 'transform';
  await ok('transform/cli.ts', ['--quiet', '--shard', '1/1']);
  await ok('transform/cli.ts', ['finalize', '--quiet']);
  await ok('transform/cli.ts', ['--quiet', '--concurrency', '2']);
  // Each table its own policy (the policy names the table): batch into one, ImportTable into the other.
  const tables = { batch: randomName('iam_'), import: randomName('iam_') };
  for (const name of Object.values(tables)) t.teardown(async () => { await dynamoClient().send(new DeleteTableCommand({ TableName: name })).catch(() => {}); });
  for (const [mode, table] of Object.entries(tables)) {
    recorded.table = table;
    recorded.current = 'load';
    await ok('load/cli.ts', ['--quiet', '--mode', mode, '--poll-seconds', '0.2', '--no-deletion-protection', '--no-ttl', '--ddb-table', table]);
    recorded.current = 'verify';
    await ok('verify/cli.ts', ['--quiet', '--ddb-table', table]);
    if (mode === 'batch') {
      // Also a TABLE= load with --prune, a sharded verify and its finalize.
      recorded.current = 'load';
      await ok('load/cli.ts', ['--quiet', '--mode', mode, '--prune', '--no-deletion-protection', '--no-ttl', '--ddb-table', table], { TABLE: 'users' });
      recorded.current = 'verify';
      await ok('verify/cli.ts', ['--quiet', '--shard', '1/1', '--ddb-table', table]);
      await ok('verify/cli.ts', ['finalize', '--quiet', '--ddb-table', table]);
    }
  }

  const all = recorded.requests;
  for (const s of ['extract', 'transform', 'load', 'verify'] as const) t.true(all.some((r) => r.stage === s), `${s} sent requests`);
  t.true(all.some((r) => r.stage === 'extract' && r.action === 's3:DeleteObject' && r.arn.endsWith('/r/extract/plan.json')), 'the whole extract retired the sharded plan');
  t.true(all.some((r) => r.stage === 'extract' && r.action === 's3:PutObject' && r.arn.includes('/r/.locks/extract/')), 'extract put its lock');
  t.true(all.some((r) => r.stage === 'load' && r.arn.endsWith('/r/load/import.json')), 'an import-mode load');
  t.true(all.some((r) => r.stage === 'load' && r.action === 'dynamodb:ImportTable'), 'the DynamoDB requests were recorded');
  t.deepEqual(refusedOf(store, all), []);
});

test('a transform that finds items sharing a key reads their item files to report them: the transform policy allows it', async (t) => {
  t.timeout(300_000);
  const url = await freshDatabase(t, { scale: 0.001 });
  await withClient(url, async (c) => {
    await c.query(`ALTER TABLE consent_records DROP CONSTRAINT IF EXISTS consent_records_user_id_consent_type_key`);
    // A copy of one consent under another id: the same (PK, SK).
    await c.query(`INSERT INTO consent_records SELECT (jsonb_populate_record(NULL::consent_records, to_jsonb(c) || '{"id": "ffffffff-0000-4000-8000-000000000001"}')).* FROM consent_records c WHERE user_id IS NOT NULL AND consent_type IS NOT NULL LIMIT 1`);
  });
  const { store, recorded, env } = await recordingStore(t, url);
  t.is((await runCli('extract/cli.ts', ['--quiet'], env)).code, 0);
  recorded.current = 'transform';
  const transform = await runCli('transform/cli.ts', ['--quiet'], env);
  t.is(transform.code, 3, transform.stderr);
  t.regex(transform.stderr, /share \(PK, SK\) with another item/);
  t.deepEqual(refusedOf(store, recorded.requests), []);
});

/** One transaction per statement, as an application would commit them. */
async function change(url: string, statements: string[]): Promise<void> {
  await withClient(url, async (c) => { for (const sql of statements) await c.query(sql); });
}

test('every S3 and DynamoDB request of catchup (puts, deletes, moved keys, rejects) and cutover (its fresh run\'s extract, transform and verify) is allowed by its stage\'s policy', async (t) => {
  t.timeout(600_000);
  const url = await followableDatabase(t, logical!.adminUrl, { scale: 0.001 });
  const { store, recorded, env } = await recordingStore(t, url);
  const table = randomName('iam_');
  t.teardown(async () => { await dynamoClient().send(new DeleteTableCommand({ TableName: table })).catch(() => {}); });
  // A slot left behind keeps WAL forever, whatever the test did.
  t.teardown(async () => { await runCli('catchup/cli.ts', ['--drop-slot'], env); });
  const ok = async (script: string, args: string[]) => {
    const result = await runCli(script, args, env);
    t.is(result.code, 0, `${script} ${args.join(' ')}: ${result.stderr}`);
    return result;
  };
  await ok('extract/cli.ts', ['--quiet', '--follow']);
  recorded.current = 'transform';
  await ok('transform/cli.ts', ['--quiet']);
  recorded.table = table;
  recorded.current = 'load';
  await ok('load/cli.ts', ['--quiet', '--mode', 'batch', '--no-deletion-protection', '--no-ttl', '--ddb-table', table]);

  recorded.current = 'catchup';
  await change(url, [
    `UPDATE users SET name = name || '!' WHERE id = (SELECT id FROM users ORDER BY id LIMIT 1)`,
    // The sort key PAYMENT#{created_at}#{id} changes: delete the old item, put the new.
    `UPDATE payments SET created_at = created_at + interval '1 second' WHERE id = (SELECT id FROM payments ORDER BY id LIMIT 1)`,
    `DELETE FROM chat_messages WHERE id = (SELECT id FROM chat_messages ORDER BY id LIMIT 1)`,
    // A device moves to another user: its biometric registrations' items, found by a Query, move too.
    `UPDATE user_devices d SET user_id = (SELECT id FROM users WHERE id <> d.user_id ORDER BY id LIMIT 1)
      WHERE d.id = (SELECT device_id FROM biometric_registrations ORDER BY device_id LIMIT 1)`,
  ]);
  // A batch without rejects deletes a rerun's rejects file; one with an oversize row writes it.
  await ok('catchup/cli.ts', ['--quiet', '--ddb-table', table]);
  await change(url, [`UPDATE processing_jobs SET error_message = repeat(md5(id::text), 15000) WHERE id = (SELECT id FROM processing_jobs ORDER BY id LIMIT 1)`]);
  const caught = await ok('catchup/cli.ts', ['--json', '--until-lag', '0', '--ddb-table', table]);
  t.is((JSON.parse(caught.stdout) as { rejected: number }).rejected, 1, caught.stdout);

  recorded.current = 'cutover';
  await change(url, [`UPDATE processing_jobs SET error_message = NULL WHERE error_message IS NOT NULL AND length(error_message) > 1000`]);
  const cutover = await runCli('catchup/cutover-cli.ts', ['--writers-stopped', '--json', '--ddb-table', table], env);
  t.is(cutover.code, 0, cutover.stderr);
  t.true((JSON.parse(cutover.stdout) as { go: boolean }).go, cutover.stdout);
  recorded.current = 'catchup';
  await ok('catchup/cli.ts', ['--quiet', '--drop-slot']);

  const all = recorded.requests;
  const sent = (stage: Stage, action: string, arn: RegExp) => all.some((r) => r.stage === stage && r.action === action && arn.test(r.arn));
  t.true(sent('catchup', 'dynamodb:BatchWriteItem', /table\//), 'catchup wrote its changes');
  t.true(sent('catchup', 'dynamodb:Query', /table\//), 'catchup queried the items of a moved key');
  t.true(sent('catchup', 's3:PutObject', /\/r\/catchup\/rejects\//), 'catchup wrote a rejects file');
  t.true(sent('catchup', 's3:DeleteObject', /\/r\/catchup\/rejects\//), 'catchup deleted the rejects file of a batch without');
  t.true(sent('cutover', 'dynamodb:BatchWriteItem', /table\//), 'cutover drained the slot');
  t.true(sent('cutover', 's3:PutObject', /\/r-cutover\/extract\//), 'cutover extracted its fresh run');
  t.true(sent('cutover', 's3:PutObject', /\/r-cutover\/load\/loaded\//), 'cutover recorded the fresh run as loaded');
  t.true(sent('cutover', 'dynamodb:Scan', /table\//), 'cutover verified the table');
  t.deepEqual(refusedOf(store, all), []);
});
