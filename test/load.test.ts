// The load stage: batch mode against the stack's DynamoDB Local (with injected
// throttling, and the one-table rerun with prune), and import mode's requests
// against a stubbed DynamoDB client send (DynamoDB Local has no ImportTable).
import test from 'ava';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  DynamoDBClient, ScanCommand, type BatchWriteItemCommandInput, type BatchWriteItemCommandOutput, type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import pg from 'pg';
import { runExtract } from '../extract/extract.ts';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { sha256Hex } from '../lib/meter.ts';
import { openStorage } from '../lib/storage.ts';
import { type TransformManifest } from '../lib/transform-manifest.ts';
import { fromItemValue, canonicalValue, type ItemJson } from '../model/attribute-json.ts';
import { importClientToken } from '../load/import-table.ts';
import { itemKey } from '../lib/item-files.ts';
import { runLoad, type LoadOptions } from '../load/load.ts';
import { type LoadReport } from '../load/report.ts';
import { DEFAULT_SETTINGS, tableCreationParameters } from '../model/table-spec.ts';
import { runVerify } from '../verify/verify.ts';
import { writeDumpRun } from '../scripts/golden.ts';
import { runTransform } from '../transform/runner.ts';
import { runCli } from './cli.ts';
import { freshBucketPrefix, freshDatabase, randomName, stackEnv } from './stack.ts';
import { LOAD_REPORT_KEY, TRANSFORM_MANIFEST_KEY } from '../lib/run-layout.ts';

const quiet = () => {};
const noWait = async () => {};
// DynamoDB Local honours TTL: fixture items whose ttl has passed vanish during a
// test. Tests that compare exact item sets leave TTL off; the first one keeps it
// on, and verify counts expired items apart.
const LOCAL_SETTINGS = { ...DEFAULT_SETTINGS, deletionProtection: false, ttl: false };

/** A transform run of the committed fixture dumps (no database needed). */
async function fixtureRun(store: string, run = 'r'): Promise<TransformManifest> {
  await writeDumpRun(store, run);
  return runTransform({ store, run, concurrency: 2, gzipLevel: 1, unmapped: 'fail', dropExpired: false, log: quiet });
}

function batchOptions(store: string, tableName: string, extra: Partial<LoadOptions> = {}): LoadOptions {
  return { store, run: 'r', tableName, mode: 'batch', concurrency: 4, settings: LOCAL_SETTINGS, log: quiet, ...extra };
}

async function scanAll(tableName: string): Promise<Map<string, ItemJson>> {
  const client = dynamoClient();
  const items = new Map<string, ItemJson>();
  let start: Record<string, never> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) items.set(itemKey(item as Record<string, { S?: string }>), fromItemValue(item));
    start = page.LastEvaluatedKey as typeof start;
  } while (start);
  return items;
}

test('batch mode loads every item of the run into a new table, and verify passes every check', async (t) => {
  const databaseUrl = await freshDatabase(t);
  const store = freshBucketPrefix();
  const manifest = await fixtureRun(store);
  const tableName = randomName('load_');
  const report = await runLoad(batchOptions(store, tableName, { settings: { ...LOCAL_SETTINGS, ttl: true } }));
  t.true(report.ok);
  t.true(report.created_table);
  t.is(report.totals.written, manifest.totals.items_out);
  t.like(report.settings, { ttl: 'enabled', deletion_protection: 'off', point_in_time_recovery: 'unsupported' });
  const stored = JSON.parse((await openStorage(store).sub('r').getText(LOAD_REPORT_KEY))!) as LoadReport;
  t.is(stored.totals.written, manifest.totals.items_out);

  const verify = await runVerify({ store, run: 'r', tableName, concurrency: 4, databaseUrl, sampleSize: 50, log: quiet });
  t.deepEqual(verify.checks.filter((c) => !c.ok).map((c) => c.name), []);
  t.is(verify.checks.length, 10, '(a), (b), (c) and seven access patterns');
  t.true(verify.ok);
});

test('batch mode under injected throttling writes every item exactly once and the counts reconcile', async (t) => {
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-load-test-'));
  const manifest = await fixtureRun(store);
  const tableName = randomName('load_');
  // The client's own retry strategy, with waits of 0 ms: a throttled call is retried in the SDK's retry step, as in a real load.
  const throttling = dynamoClient(process.env, { throttling: { attempts: 8, baseMs: 0 }, transient: { attempts: 8, baseMs: 0 } });
  t.teardown(() => throttling.destroy());
  const writes = new Map<string, number>();
  let batchCalls = 0;
  let throttled = 0;
  let heldBack = 0;
  // Every fourth BatchWriteItem request is throttled outright (below the retry step, so it is
  // retried like a real one); every call writes only the first half of its batch and returns
  // the rest as UnprocessedItems.
  throttling.middlewareStack.add((next, context) => async (args) => {
    if (context.commandName === 'BatchWriteItemCommand' && ++batchCalls % 4 === 0) {
      throttled++;
      throw Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } });
    }
    return next(args);
  }, { step: 'finalizeRequest', priority: 'low', name: 'injectThrottling' });
  throttling.middlewareStack.add((next, context) => async (args) => {
    if (context.commandName !== 'BatchWriteItemCommand') return next(args);
    const input = args.input as BatchWriteItemCommandInput;
    const [table, requests] = Object.entries(input.RequestItems!)[0]!;
    const keep = requests.slice(0, Math.ceil(requests.length / 2));
    const back: WriteRequest[] = requests.slice(keep.length);
    heldBack += back.length;
    const result = await next({ ...args, input: { ...input, RequestItems: { [table]: keep } } });
    const output = result.output as BatchWriteItemCommandOutput;
    const unprocessed = output.UnprocessedItems?.[table] ?? [];
    for (const r of keep) {
      if (unprocessed.includes(r)) continue;
      const key = itemKey(r.PutRequest!.Item as Record<string, { S?: string }>);
      writes.set(key, (writes.get(key) ?? 0) + 1);
    }
    output.UnprocessedItems = unprocessed.length + back.length > 0 ? { [table]: [...unprocessed, ...back] } : {};
    return result;
  }, { step: 'initialize', name: 'holdBackHalf' });

  const report = await runLoad(batchOptions(store, tableName, { dynamo: throttling, sleep: noWait }));
  t.true(throttled > 0 && heldBack > 0, 'throttling was injected');
  t.is(writes.size, manifest.totals.items_out, 'every item reached DynamoDB');
  t.deepEqual([...writes.values()].filter((n) => n !== 1), [], 'no item was written twice');
  t.is(report.totals.written, manifest.totals.items_out);
  for (const table of report.tables) {
    t.is(table.written, table.items, table.name);
  }
  t.is(report.tables.reduce((n, x) => n + x.batch!.unprocessed_resent, 0), heldBack);
  t.is(report.tables.reduce((n, x) => n + x.batch!.error_retries, 0), throttled);
  const verify = await runVerify({ store, run: 'r', tableName, concurrency: 4, databaseUrl: false, sampleSize: 1, log: quiet });
  t.true(verify.ok, JSON.stringify(verify.checks.filter((c) => !c.ok)));
});

test('make load TABLE=users after one user row changed updates exactly that item; --prune removes a deleted user (dry run first)', async (t) => {
  const env = stackEnv();
  const databaseUrl = await freshDatabase(t);
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-load-test-'));
  const extract = (tables?: string[]) => runExtract({ databaseUrl, store, run: 'r', concurrency: 2, schemas: ['public'], gzipLevel: 1, log: quiet, ...(tables ? { tables } : {}) });
  const transform = (tables?: string[]) => runTransform({ store, run: 'r', concurrency: 2, gzipLevel: 1, unmapped: 'fail', dropExpired: false, log: quiet, ...(tables ? { tables } : {}) });
  await extract();
  const manifest = await transform();
  const tableName = randomName('load_');
  await runLoad(batchOptions(store, tableName));
  const before = await scanAll(tableName);
  t.is(before.size, manifest.totals.items_out);

  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  t.teardown(() => db.end());
  const { id } = (await db.query<{ id: string }>(`SELECT id::text AS id FROM users WHERE external_id <> '' ORDER BY id LIMIT 1 OFFSET 3`)).rows[0]!;
  await db.query(`UPDATE users SET given_name = 'Renamed' WHERE id = $1`, [id]);
  await extract(['users']);
  await transform(['users']);
  const cli = (args: string[]) => runCli('load/cli.ts', args, {
    ...env, STORE: store, RUN: 'r', TABLE: 'users', MODE: 'batch', DDB_TABLE: tableName,
  });
  const load = await cli(['--quiet']);
  t.is(load.code, 0, load.stderr);
  const after = await scanAll(tableName);
  t.is(after.size, before.size);
  const changed = [...after].filter(([key, item]) => canonicalValue({ M: item }) !== canonicalValue({ M: before.get(key)! })).map(([key]) => key);
  t.deepEqual(changed, [`USER#${id}\0PROFILE`], 'exactly that user item changed');
  const data = after.get(changed[0]!)!.data as { M: Record<string, { S: string }> };
  t.is(data.M.given_name!.S, 'Renamed');

  // A user deleted in the source: a dry run counts it, --prune deletes it and nothing else.
  const { id: gone } = (await db.query<{ id: string }>(`SELECT id::text AS id FROM users ORDER BY id DESC LIMIT 1`)).rows[0]!;
  await db.query(`DELETE FROM users WHERE id = $1`, [gone]);
  await extract(['users']);
  await transform(['users']);
  const dry = await cli(['--quiet', '--prune', '--dry-run']);
  t.is(dry.code, 0, dry.stderr);
  t.like(JSON.parse(dry.stdout).tables[0], { name: 'users', prune: { stale: 1, deleted: 0, dry_run: true } });
  t.true((await scanAll(tableName)).has(`USER#${gone}\0PROFILE`), 'the dry run deleted nothing');
  const prune = await cli(['--quiet', '--prune']);
  t.is(prune.code, 0, prune.stderr);
  t.like(JSON.parse(prune.stdout).tables[0], { name: 'users', prune: { stale: 1, deleted: 1, dry_run: false } });
  const pruned = await scanAll(tableName);
  t.false(pruned.has(`USER#${gone}\0PROFILE`));
  t.is(pruned.size, before.size - 1, 'only that item went');
});

test('--prune deletes only items a load of that table put there: another run\'s table of the same entity_type stays', async (t) => {
  const env = stackEnv();
  const databaseUrl = await freshDatabase(t);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  t.teardown(() => db.end());
  // The generic mapping gives table "user" the users mapper's entity_type `user`; in one run the
  // transform refuses that, so it arrives from a second run (o) loaded into the same DynamoDB table.
  await db.query(`CREATE TABLE "user" (id int PRIMARY KEY, n text); INSERT INTO "user" SELECT i, 'n' || i FROM generate_series(1, 7) i`);
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-load-test-'));
  const extract = (run: string, tables?: string[]) => runExtract({ databaseUrl, store, run, concurrency: 2, schemas: ['public'], gzipLevel: 1, log: quiet, ...(tables ? { tables } : {}) });
  const transform = (run: string, unmapped: 'skip' | 'generic', tables?: string[]) => runTransform({ store, run, concurrency: 2, gzipLevel: 1, unmapped, dropExpired: false, log: quiet, ...(tables ? { tables } : {}) });
  await extract('r');
  const manifest = await transform('r', 'skip');
  await extract('o', ['user']);
  const other = await transform('o', 'generic');
  t.like(other.tables[0], { name: 'user', mapping: 'generic', entity_type: 'user', items_out: 7 });
  const tableName = randomName('load_');
  await runLoad(batchOptions(store, tableName));
  await runLoad(batchOptions(store, tableName, { run: 'o' }));
  const before = await scanAll(tableName);
  t.is(before.size, manifest.totals.items_out + 7);

  const cli = (args: string[]) => runCli('load/cli.ts', ['--quiet', '--prune', ...args], { ...env, STORE: store, RUN: 'r', TABLE: 'users', MODE: 'batch', DDB_TABLE: tableName });
  const unchanged = await cli([]);
  t.is(unchanged.code, 0, unchanged.stderr);
  t.like(JSON.parse(unchanged.stdout).tables[0], { name: 'users', prune: { stale: 0, deleted: 0 } });
  t.is((await scanAll(tableName)).size, before.size, 'the other table\'s 7 items stay');

  const { id: gone } = (await db.query<{ id: string }>(`SELECT id::text AS id FROM users ORDER BY id LIMIT 1`)).rows[0]!;
  await db.query(`DELETE FROM users WHERE id = $1`, [gone]);
  await extract('r', ['users']);
  await transform('r', 'skip', ['users']);
  const pruned = await cli([]);
  t.is(pruned.code, 0, pruned.stderr);
  t.like(JSON.parse(pruned.stdout).tables[0], { name: 'users', prune: { stale: 1, deleted: 1 } });
  const after = await scanAll(tableName);
  t.deepEqual([...before.keys()].filter((k) => !after.has(k)), [`USER#${gone}\0PROFILE`], 'only the deleted user went');
});

// ---- import mode: the requests, against a stubbed client send ----

interface Call { name: string; input: Record<string, unknown> }

/** A real DynamoDBClient whose send answers from `handlers` and records every request. */
function stubbedDynamo(handlers: Record<string, (input: Record<string, unknown>) => unknown>): { client: DynamoDBClient; calls: Call[] } {
  const client = dynamoClient();
  const calls: Call[] = [];
  client.send = (async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
    const name = command.constructor.name.replace(/Command$/, '');
    calls.push({ name, input: structuredClone(command.input) });
    const handler = handlers[name];
    if (!handler) throw new Error(`unexpected ${name}`);
    return handler(command.input);
  }) as never;
  return { client, calls };
}

const ACCOUNT = '123456789012';
const LOG_GROUP_ARN = `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws-dynamodb/imports:*`;
const notFound = () => { throw Object.assign(new Error('Requested resource not found'), { name: 'ResourceNotFoundException' }); };

function activeTable(tableName: string) {
  const spec = tableCreationParameters(tableName, DEFAULT_SETTINGS);
  return {
    Table: {
      TableName: tableName, TableArn: `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/${tableName}`, TableStatus: 'ACTIVE',
      KeySchema: spec.KeySchema, GlobalSecondaryIndexes: spec.GlobalSecondaryIndexes!.map((g) => ({ ...g, IndexStatus: 'ACTIVE' })),
    },
  };
}

/** The happy path: no table yet, ImportTable, two polls, settings. `end` overrides the final DescribeImport. */
function importHandlers(tableName: string, manifest: TransformManifest, end: Record<string, unknown> = {}) {
  const tableArn = `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/${tableName}`;
  const importArn = `${tableArn}/import/01700000000000-0a1b2c3d`;
  let token = '';
  let source: Record<string, unknown> = {};
  let polls = 0;
  let created = false;
  const n = manifest.totals.items_out;
  const handlers: Record<string, (input: Record<string, unknown>) => unknown> = {
    DescribeTable: () => (created ? activeTable(tableName) : notFound()),
    ImportTable: (input) => {
      created = true;
      token = input.ClientToken as string;
      source = { S3BucketSource: input.S3BucketSource, InputFormat: input.InputFormat, InputCompressionType: input.InputCompressionType };
      return { ImportTableDescription: { ImportArn: importArn, ImportStatus: 'IN_PROGRESS', ClientToken: token, TableArn: tableArn, StartTime: new Date(), ...source } };
    },
    DescribeImport: () => {
      polls++;
      const base = { ImportArn: importArn, ClientToken: token, TableArn: tableArn, CloudWatchLogGroupArn: LOG_GROUP_ARN, StartTime: new Date(), ...source };
      return {
        ImportTableDescription: polls === 1
          ? { ...base, ImportStatus: 'IN_PROGRESS', ProcessedItemCount: Math.floor(n / 2), ProcessedSizeBytes: 1000 }
          : { ...base, ImportStatus: 'COMPLETED', ProcessedItemCount: n, ImportedItemCount: n, ErrorCount: 0, ProcessedSizeBytes: manifest.totals.raw_bytes, EndTime: new Date(), ...end },
      };
    },
    // The preflight's count of imports in progress in the account.
    ListImports: () => ({ ImportSummaryList: [] }),
    DescribeTimeToLive: () => ({ TimeToLiveDescription: { TimeToLiveStatus: 'DISABLED' } }),
    UpdateTimeToLive: (input) => ({ TimeToLiveSpecification: input.TimeToLiveSpecification }),
    DescribeContinuousBackups: () => ({ ContinuousBackupsDescription: { ContinuousBackupsStatus: 'ENABLED', PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: 'DISABLED' } } }),
    UpdateContinuousBackups: () => ({}),
    UpdateTable: () => activeTable(tableName),
    TagResource: () => ({}),
  };
  return { handlers, tableArn, importArn };
}

function importOptions(store: string, tableName: string, client: DynamoDBClient, extra: Partial<LoadOptions> = {}): LoadOptions {
  return {
    store, run: 'r', tableName, mode: 'import', concurrency: 4,
    settings: { ...DEFAULT_SETTINGS, tags: { app: 'serenya' } }, log: quiet, dynamo: client, pollMs: 1, sleep: noWait, ...extra,
  };
}

async function manifestSha(store: string): Promise<string> {
  return sha256Hex((await openStorage(store).sub('r').getText(TRANSFORM_MANIFEST_KEY))!);
}

test('import mode: ImportTable and DescribeImport requests field by field, then TTL, PITR, deletion protection, tags; a rerun resumes the same import', async (t) => {
  const store = freshBucketPrefix();
  const manifest = await fixtureRun(store);
  const tableName = randomName('imp_');
  const { handlers, tableArn, importArn } = importHandlers(tableName, manifest);
  const { client, calls } = stubbedDynamo(handlers);
  const report = await runLoad(importOptions(store, tableName, client));

  t.deepEqual(calls.map((c) => c.name), [
    'DescribeTable', 'ListImports', 'ImportTable', 'DescribeImport', 'DescribeImport', 'DescribeTable',
    'DescribeTimeToLive', 'UpdateTimeToLive', 'DescribeContinuousBackups', 'UpdateContinuousBackups', 'UpdateTable', 'TagResource', 'DescribeTable',
  ]);
  const request = calls.find((c) => c.name === 'ImportTable')!.input;
  const [, bucket, prefix] = /^s3:\/\/([^/]+)\/(.+)$/.exec(store)!;
  const token = importClientToken(await manifestSha(store), tableName);
  t.deepEqual(Object.keys(request).sort(), ['ClientToken', 'InputCompressionType', 'InputFormat', 'S3BucketSource', 'TableCreationParameters']);
  t.is(request.ClientToken, token, 'ClientToken derived from the transform manifest hash and the table');
  t.deepEqual(request.S3BucketSource, { S3Bucket: bucket, S3KeyPrefix: `${prefix}/r/items/` });
  t.is(request.InputFormat, 'DYNAMODB_JSON');
  t.is(request.InputCompressionType, 'GZIP');
  t.deepEqual(request.TableCreationParameters, {
    TableName: tableName,
    AttributeDefinitions: ['PK', 'SK', 'GSI1PK', 'GSI1SK', 'GSI2PK', 'GSI2SK'].map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
    KeySchema: [{ AttributeName: 'PK', KeyType: 'HASH' }, { AttributeName: 'SK', KeyType: 'RANGE' }],
    BillingMode: 'PAY_PER_REQUEST',
    GlobalSecondaryIndexes: ['GSI1', 'GSI2'].map((IndexName) => ({
      IndexName, KeySchema: [{ AttributeName: `${IndexName}PK`, KeyType: 'HASH' }, { AttributeName: `${IndexName}SK`, KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' },
    })),
    SSESpecification: { Enabled: true, SSEType: 'KMS' },
  });
  // Everything under the prefix is exactly the manifest's item files (ImportTable takes all of it).
  const listed = (await openStorage(store).sub('r').list('items')).map((o) => o.key);
  t.deepEqual(listed, manifest.tables.flatMap((x) => x.parts.map((p) => p.key)).sort());
  for (const call of calls.filter((c) => c.name === 'DescribeImport')) t.deepEqual(call.input, { ImportArn: importArn });
  t.deepEqual(calls.find((c) => c.name === 'UpdateTimeToLive')!.input, { TableName: tableName, TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true } });
  t.deepEqual(calls.find((c) => c.name === 'UpdateContinuousBackups')!.input, { TableName: tableName, PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } });
  t.deepEqual(calls.find((c) => c.name === 'UpdateTable')!.input, { TableName: tableName, DeletionProtectionEnabled: true });
  t.deepEqual(calls.find((c) => c.name === 'TagResource')!.input, { ResourceArn: tableArn, Tags: [{ Key: 'app', Value: 'serenya' }] });
  t.like(report, { ok: true, mode: 'import', created_table: true, totals: { written: manifest.totals.items_out } });
  t.like(report.import, { import_arn: importArn, client_token: token, resumed: false, status: 'COMPLETED', imported_items: manifest.totals.items_out, error_count: 0, cloudwatch_log_group: '/aws-dynamodb/imports' });

  // make load again: the same token, the recorded import is watched, no second ImportTable.
  calls.length = 0;
  const again = await runLoad(importOptions(store, tableName, client));
  t.false(calls.some((c) => c.name === 'ImportTable'));
  t.is(calls[0]!.name, 'DescribeImport');
  t.deepEqual(calls[0]!.input, { ImportArn: importArn });
  t.like(again.import, { client_token: token, resumed: true, status: 'COMPLETED' });
});

test('import mode refuses a table that exists and was not created by this run, and resumes one that was', async (t) => {
  const store = freshBucketPrefix();
  const manifest = await fixtureRun(store);
  const tableName = randomName('imp_');
  const token = importClientToken(await manifestSha(store), tableName);
  const [, bucket, prefix] = /^s3:\/\/([^/]+)\/(.+)$/.exec(store)!;
  const other = `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/${tableName}/import/01600000000000-ffffffff`;
  const { client, calls } = stubbedDynamo({
    DescribeTable: () => activeTable(tableName),
    ListImports: () => ({ ImportSummaryList: [{ ImportArn: other, ImportStatus: 'COMPLETED' }] }),
    DescribeImport: () => ({ ImportTableDescription: { ImportArn: other, ClientToken: 'someone-else', ImportStatus: 'COMPLETED' } }),
  });
  await t.throwsAsync(runLoad(importOptions(store, tableName, client)), { message: new RegExp(`table ${tableName} already exists and was not created by this run's import`) });
  t.false(calls.some((c) => c.name === 'ImportTable'), 'no import was started');
  t.deepEqual(calls.find((c) => c.name === 'ListImports')!.input, { TableArn: activeTable(tableName).Table.TableArn });

  // The same table, created by this run's import (found by its ClientToken): resumed, not refused.
  const ours = importHandlers(tableName, manifest);
  const { client: client2, calls: calls2 } = stubbedDynamo({
    ...ours.handlers,
    DescribeTable: () => activeTable(tableName),
    ListImports: () => ({ ImportSummaryList: [{ ImportArn: other }, { ImportArn: ours.importArn }] }),
    DescribeImport: (input) => ({ ImportTableDescription: input.ImportArn === other
      ? { ImportArn: other, ClientToken: 'someone-else', ImportStatus: 'COMPLETED' }
      : {
        ImportArn: ours.importArn, ClientToken: token, TableArn: ours.tableArn, ImportStatus: 'COMPLETED', ImportedItemCount: manifest.totals.items_out, ProcessedItemCount: manifest.totals.items_out, ErrorCount: 0,
        S3BucketSource: { S3Bucket: bucket, S3KeyPrefix: `${prefix}/r/items/` }, InputFormat: 'DYNAMODB_JSON', InputCompressionType: 'GZIP',
      } }),
  });
  const report = await runLoad(importOptions(store, tableName, client2));
  t.false(calls2.some((c) => c.name === 'ImportTable'));
  t.like(report.import, { resumed: true, import_arn: ours.importArn, status: 'COMPLETED' });
});

test('import mode fails loudly on import errors: FailureCode, counts, the CloudWatch log group and its first errors', async (t) => {
  const store = freshBucketPrefix();
  const manifest = await fixtureRun(store);
  const tableName = randomName('imp_');
  const n = manifest.totals.items_out;
  const { handlers } = importHandlers(tableName, manifest, {
    ImportStatus: 'FAILED', FailureCode: 'ItemValidationError', FailureMessage: 'Some of the items failed validation checks', ImportedItemCount: n - 2, ErrorCount: 2,
  });
  const { client, calls } = stubbedDynamo(handlers);
  const logCalls: Record<string, unknown>[] = [];
  const logs = {
    send: async (command: { input: Record<string, unknown> }) => {
      logCalls.push(command.input);
      return { events: [{ message: JSON.stringify({ itemS3Pointer: { bucket: 'b', key: 'r/items/users/part-00000.json.gz', itemIndex: 4 }, errorMessages: ['One or more parameter values were invalid'] }) }] };
    },
  };
  const error = await t.throwsAsync(runLoad(importOptions(store, tableName, client, { logs: logs as never })));
  t.regex(error!.message, /FAILED with FailureCode ItemValidationError: Some of the items failed validation checks/);
  t.regex(error!.message, /ErrorCount 2/);
  t.regex(error!.message, new RegExp(`ImportedItemCount ${n - 2} ≠ ${n}`));
  t.regex(error!.message, /CloudWatch log group \/aws-dynamodb\/imports/);
  t.is(logCalls[0]!.logGroupName, '/aws-dynamodb/imports');
  t.false(calls.some((c) => c.name === 'UpdateTimeToLive'), 'no settings on a failed import');
  const report = JSON.parse((await openStorage(store).sub('r').getText(LOAD_REPORT_KEY))!) as LoadReport;
  t.false(report.ok);
  t.like(report.import, { status: 'FAILED', failure_code: 'ItemValidationError', error_count: 2 });
  t.deepEqual(report.import!.first_errors, ['s3://b/r/items/users/part-00000.json.gz item 4: One or more parameter values were invalid']);
});

test('import mode refuses when items/ holds an object the manifest does not list (ImportTable would import it)', async (t) => {
  const store = freshBucketPrefix();
  const manifest = await fixtureRun(store);
  await openStorage(store).sub('r').put('items/users/part-00099.json.gz', 'stray');
  const tableName = randomName('imp_');
  const { client, calls } = stubbedDynamo(importHandlers(tableName, manifest).handlers);
  await t.throwsAsync(runLoad(importOptions(store, tableName, client)), { message: /1 object\(s\) under items\/ that the transform manifest does not list/ });
  t.deepEqual(calls, []);
});
