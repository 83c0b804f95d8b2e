// Every S3 request each stage sends, recorded on the stack's S3 through a proxy
// that faults nothing, is allowed by that stage's generated IAM policy
// (plan/iam-policy.ts), resource and all. plan/iam-policy.test.ts reads the
// code for the actions a stage calls, not for the keys: it missed the extract
// lock's `.locks/extract/*`, outside the `extract/*` the policy allowed, which
// AWS would have refused on the first extract.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import test from 'ava';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { stagePolicy, type PolicyDocument, type Stage } from '../plan/iam-policy.ts';
import { startFaultProxy } from '../scripts/fault-proxy.ts';
import { REPO, runCli, cliArgv } from './cli.ts';
import { freshBucketPrefix, freshDatabase, randomName, stackEnv } from './stack.ts';
import pg from 'pg';

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try { return await fn(c); } finally { await c.end(); }
}

/** `table`: the DynamoDB table the stage was run for (its policy names it). */
interface S3Request { stage: Stage; table?: string; action: string; arn: string; prefix?: string }

/** The IAM action and resource of a path-style S3 request, as AWS authorizes it. */
function authorized(method: string, path: string, bucket: string): Omit<S3Request, 'stage' | 'table'> {
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

const glob = (pattern: string, value: string) =>
  new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*')}$`).test(value);

function allows(policy: PolicyDocument, request: S3Request): boolean {
  return policy.Statement.some((s) => s.Action.includes(request.action) && s.Resource.some((r) => glob(r, request.arn)) && (() => {
    const prefixes = (s.Condition as { StringLikeIfExists?: Record<string, string[]> } | undefined)?.StringLikeIfExists?.['s3:prefix'];
    return !prefixes || request.prefix === undefined || prefixes.some((p) => glob(p, request.prefix!));
  })());
}

/** A fresh store behind a proxy that records each S3 request as sent by stage `current` (for `table`); `env` runs the CLIs through it. */
async function recordingStore(t: { teardown(fn: () => Promise<void>): void }, url: string) {
  const bucket = stackEnv().S3_BUCKET!;
  const store = freshBucketPrefix();
  const recorded = { requests: [] as S3Request[], current: 'extract' as Stage, table: undefined as string | undefined };
  const proxy = await startFaultProxy({
    target: stackEnv().AWS_ENDPOINT_URL_S3!, share: 0, faults: [],
    onRequest: ({ method, path }) => { recorded.requests.push({ stage: recorded.current, table: recorded.table, ...authorized(method, path, bucket) }); },
  });
  t.teardown(() => proxy.close());
  return { store, recorded, env: { DATABASE_URL: url, AWS_ENDPOINT_URL_S3: proxy.url, STORE: store, RUN: 'r' } };
}

/** The stage policy for run `r` of `store` (table `any` for the stages that name none). */
const policyOf = (store: string, stage: Stage, table = 'any') =>
  stagePolicy({ store, run: 'r', table, region: 'us-east-1', accountId: '111122223333', loadMode: 'both' }, stage);

test('every S3 request of extract (whole, TABLE=, sharded), transform, load and verify is allowed by its stage\'s policy, resource and all', async (t) => {
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
  const refused = all.filter((r) => !allows(policyOf(store, r.stage, r.table), r));
  t.deepEqual([...new Set(refused.map((r) => `${r.stage}: ${r.action} ${r.arn}${r.prefix !== undefined ? ` (prefix ${r.prefix})` : ''}`))], []);
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
  const refused = recorded.requests.filter((r) => !allows(policyOf(store, r.stage), r));
  t.deepEqual([...new Set(refused.map((r) => `${r.stage}: ${r.action} ${r.arn}`))], []);
});
