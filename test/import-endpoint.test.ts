// The local stack's ImportTable endpoint (scripts/import-endpoint/), driven with
// the real SDK clients the load stage uses: DynamoDB pass-through, ImportTable /
// DescribeImport / ListImports as AWS documents and measures them, and the
// CloudWatch Logs reads of import errors.
import test, { type ExecutionContext } from 'ava';
import { gzipSync } from 'node:zlib';
import {
  DeleteTableCommand, DescribeImportCommand, DescribeTableCommand, DynamoDBClient, GetItemCommand,
  ImportTableCommand, ListImportsCommand, PutItemCommand, QueryCommand, ScanCommand,
  type AttributeValue, type ImportTableCommandInput, type ImportTableDescription,
} from '@aws-sdk/client-dynamodb';
import { FilterLogEventsCommand, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { cloudWatchLogsClient, dynamoClient } from '../lib/aws-dynamodb.ts';
import { canonicalValue, fromAttributeValue } from '../model/attribute-json.ts';
import { openStorage } from '../lib/storage.ts';
import { zstdAvailable } from '../scripts/import-endpoint/decompress.ts';
import { DynamoDbLocal } from '../scripts/import-endpoint/dynamodb-local.ts';
import { freshDynamoTable, randomName, stackEnv } from './stack.ts';

const env = stackEnv();
const BUCKET = env.S3_BUCKET!;

function clients(t: ExecutionContext) {
  const ddb = dynamoClient(env);
  const logs = cloudWatchLogsClient(env);
  t.teardown(() => { ddb.destroy(); logs.destroy(); });
  return { ddb, logs };
}

/** A DynamoDB JSON line for an item keyed (pk, sk), with an optional GSI1 key and a value. */
function line(pk: string, sk: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ Item: { PK: { S: pk }, SK: { S: sk }, ...extra } });
}
const text = (lines: string[]) => `${lines.join('\n')}\n`;

/** Uploads objects under a fresh prefix of the stack's bucket; returns the S3 key prefix. */
async function upload(objects: Record<string, Buffer | string>): Promise<string> {
  const prefix = `${randomName('imports-')}/items/`;
  const storage = openStorage(`s3://${BUCKET}/${prefix.slice(0, -1)}`);
  for (const [name, body] of Object.entries(objects)) await storage.put(name, body);
  return prefix;
}

function request(prefix: string, overrides: Partial<ImportTableCommandInput> = {}, tableName = randomName('import-')): ImportTableCommandInput {
  return {
    ClientToken: randomName('token-'),
    S3BucketSource: { S3Bucket: BUCKET, S3KeyPrefix: prefix },
    InputFormat: 'DYNAMODB_JSON',
    InputCompressionType: 'GZIP',
    TableCreationParameters: {
      TableName: tableName,
      KeySchema: [{ AttributeName: 'PK', KeyType: 'HASH' }, { AttributeName: 'SK', KeyType: 'RANGE' }],
      AttributeDefinitions: ['PK', 'SK', 'GSI1PK', 'GSI1SK'].map((AttributeName) => ({ AttributeName, AttributeType: 'S' as const })),
      GlobalSecondaryIndexes: [{
        IndexName: 'GSI1',
        KeySchema: [{ AttributeName: 'GSI1PK', KeyType: 'HASH' }, { AttributeName: 'GSI1SK', KeyType: 'RANGE' }],
        Projection: { ProjectionType: 'ALL' },
      }],
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { Enabled: true, SSEType: 'KMS' },
    },
    ...overrides,
  };
}

async function startImport(t: ExecutionContext, ddb: DynamoDBClient, input: ImportTableCommandInput): Promise<ImportTableDescription> {
  const d = (await ddb.send(new ImportTableCommand(input))).ImportTableDescription!;
  const TableName = input.TableCreationParameters!.TableName!;
  t.teardown(async () => { await ddb.send(new DeleteTableCommand({ TableName })).catch(() => {}); });
  return d;
}

async function finished(ddb: DynamoDBClient, arn: string): Promise<ImportTableDescription> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
    const d = (await ddb.send(new DescribeImportCommand({ ImportArn: arn }))).ImportTableDescription!;
    if (d.ImportStatus !== 'IN_PROGRESS') return d;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`import ${arn} still IN_PROGRESS after 60 s`);
}

async function importAndWait(t: ExecutionContext, ddb: DynamoDBClient, input: ImportTableCommandInput): Promise<ImportTableDescription> {
  return finished(ddb, (await startImport(t, ddb, input)).ImportArn!);
}

async function tableItems(ddb: DynamoDBClient, TableName: string): Promise<Map<string, Record<string, unknown>>> {
  const out = new Map<string, Record<string, unknown>>();
  let ExclusiveStartKey: Record<string, never> | undefined;
  do {
    const page = await ddb.send(new ScanCommand({ TableName, ExclusiveStartKey, ConsistentRead: true }));
    for (const item of page.Items ?? []) out.set(`${item.PK!.S}|${item.SK!.S}`, item);
    ExclusiveStartKey = page.LastEvaluatedKey as typeof ExclusiveStartKey;
  } while (ExclusiveStartKey);
  return out;
}

interface ErrorEvent { itemS3Pointer: { bucket: string; key: string; itemIndex: number }; importArn: string; errorMessages: string[] }

async function errorEvents(logs: ReturnType<typeof cloudWatchLogsClient>, d: ImportTableDescription): Promise<ErrorEvent[]> {
  const importId = d.ImportArn!.split('/').pop()!;
  const page = await logs.send(new FilterLogEventsCommand({ logGroupName: '/aws-dynamodb/imports', logStreamNamePrefix: importId }));
  return (page.events ?? []).map((e) => JSON.parse(e.message!) as ErrorEvent);
}

test('DynamoDB operations pass through the endpoint to DynamoDB Local unchanged', async (t) => {
  const { ddb } = clients(t);
  t.not(env.AWS_ENDPOINT_URL_DYNAMODB, env.DDB_LOCAL_URL);
  t.is(env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, env.AWS_ENDPOINT_URL_DYNAMODB);
  const TableName = await freshDynamoTable(t, ddb, 'passthrough-');
  const Item = { PK: { S: 'USER#1' }, SK: { S: 'PROFILE' }, n: { N: '12345678901234567890.5' }, b: { B: new Uint8Array([0, 1, 254, 255]) }, s: { S: 'zażółć 日本語' } };
  await ddb.send(new PutItemCommand({ TableName, Item }));
  const read = await ddb.send(new GetItemCommand({ TableName, Key: { PK: Item.PK, SK: Item.SK }, ConsistentRead: true }));
  t.deepEqual(read.Item, Item);
  const query = await ddb.send(new QueryCommand({ TableName, KeyConditionExpression: 'PK = :pk', ExpressionAttributeValues: { ':pk': { S: 'USER#1' } } }));
  t.deepEqual(query.Items, [Item]);
  // The same table and item, seen by DynamoDB Local directly.
  const direct = dynamoClient({ ...env, AWS_ENDPOINT_URL_DYNAMODB: env.DDB_LOCAL_URL });
  t.teardown(() => direct.destroy());
  t.deepEqual((await direct.send(new GetItemCommand({ TableName, Key: { PK: Item.PK, SK: Item.SK } }))).Item, Item);
  // A DynamoDB error passes through with its type.
  const missing = await t.throwsAsync(ddb.send(new GetItemCommand({ TableName: randomName('nope-'), Key: { PK: Item.PK, SK: Item.SK } })));
  t.is(missing?.name, 'ResourceNotFoundException');
});

test('a gzip DYNAMODB_JSON import creates the table with its GSI and imports every item', async (t) => {
  const { ddb, logs } = clients(t);
  const first = text([line('USER#1', 'PROFILE', { GSI1PK: { S: 'EMAIL#a' }, GSI1SK: { S: 'PROFILE' }, b: { B: 'AAH+/w==' } }), line('USER#1', 'SESSION#1'), '', line('USER#2', 'PROFILE', { n: { N: '1.50' } })]);
  const second = text([line('USER#3', 'PROFILE', { data: { M: { tags: { SS: ['a', 'b'] }, l: { L: [{ NULL: true }, { BOOL: false }] } } } })]);
  const prefix = await upload({ 'users/part-00000.json.gz': gzipSync(first), 'users/part-00001.json.gz': gzipSync(second), 'empty/part-00000.json.gz': gzipSync('') });
  const input = request(prefix);
  const TableName = input.TableCreationParameters!.TableName!;
  const started = await startImport(t, ddb, input);
  t.is(started.ImportStatus, 'IN_PROGRESS');
  t.is(started.ClientToken, input.ClientToken);
  t.true(started.ImportArn!.startsWith(`${started.TableArn}/import/`));
  t.is(started.EndTime, undefined);

  const d = await finished(ddb, started.ImportArn!);
  t.like(d, { ImportStatus: 'COMPLETED', ProcessedItemCount: 4, ImportedItemCount: 4, ErrorCount: 0, InputCompressionType: 'GZIP', TableId: started.TableId });
  t.is(d.FailureCode, undefined);
  // ProcessedSizeBytes counts the uncompressed bytes read (the blank line is ignored but read).
  t.is(d.ProcessedSizeBytes, Buffer.byteLength(first) + Buffer.byteLength(second));
  t.is(d.CloudWatchLogGroupArn, 'arn:aws:logs:us-east-1:000000000000:log-group:/aws-dynamodb/imports:*');
  t.true(d.EndTime! >= d.StartTime!);

  const items = await tableItems(ddb, TableName);
  t.deepEqual([...items.keys()].sort(), ['USER#1|PROFILE', 'USER#1|SESSION#1', 'USER#2|PROFILE', 'USER#3|PROFILE']);
  t.deepEqual(items.get('USER#1|PROFILE')!.b, { B: new Uint8Array([0, 1, 254, 255]) });
  t.deepEqual(items.get('USER#2|PROFILE')!.n, { N: '1.5' });
  const byEmail = await ddb.send(new QueryCommand({ TableName, IndexName: 'GSI1', KeyConditionExpression: 'GSI1PK = :e', ExpressionAttributeValues: { ':e': { S: 'EMAIL#a' } } }));
  t.is(byEmail.Count, 1);
  const table = (await ddb.send(new DescribeTableCommand({ TableName }))).Table!;
  t.is(table.TableStatus, 'ACTIVE');
  t.deepEqual(table.GlobalSecondaryIndexes?.map((g) => g.IndexName), ['GSI1']);

  const listed = await ddb.send(new ListImportsCommand({ TableArn: d.TableArn }));
  t.deepEqual(listed.ImportSummaryList?.map((s) => [s.ImportArn, s.ImportStatus]), [[d.ImportArn, 'COMPLETED']]);
  t.deepEqual(await errorEvents(logs, d), []);
});

/** An object of `n` items: enough that DynamoDB Local takes seconds to import it, so the import is seen IN_PROGRESS. */
function manyItems(n: number): Buffer {
  return gzipSync(text(Array.from({ length: n }, (_, i) => line(`M${i % 40}`, String(i).padStart(6, '0')))));
}

test('ClientToken as measured on AWS: while the import runs only another TableName conflicts; another source, format or compression gets the original import back', async (t) => {
  const { ddb } = clients(t);
  // Enough items that the import is still running after the six replays below, on a loaded machine too
  // (2,000 finished first once, under a load average of 10, and the replay met the table).
  const prefix = await upload({ 'part-00000.json.gz': manyItems(20000) });
  const input = request(prefix);
  const first = await startImport(t, ddb, input);
  const replay = async (changed: ImportTableCommandInput) => (await ddb.send(new ImportTableCommand(changed))).ImportTableDescription!;
  const again = await replay(input);
  t.like(again, { ImportArn: first.ImportArn, TableId: first.TableId, ImportStatus: 'IN_PROGRESS' });
  // scylladb/scylladb test/alternator/test_import.py point 1: the duplicate check ignores all but the table.
  const changes: Array<[string, Partial<ImportTableCommandInput>]> = [
    ['prefix', { S3BucketSource: { S3Bucket: BUCKET, S3KeyPrefix: `${prefix}other/` } }],
    ['bucket', { S3BucketSource: { S3Bucket: 'some-other-bucket-name', S3KeyPrefix: prefix } }],
    ['format', { InputFormat: 'CSV' }],
    ['compression', { InputCompressionType: 'NONE' }],
  ];
  for (const [label, change] of changes) {
    const d = await replay({ ...input, ...change });
    t.is(d.ImportArn, first.ImportArn, label);
    t.like(d, { S3BucketSource: input.S3BucketSource, InputFormat: 'DYNAMODB_JSON', InputCompressionType: 'GZIP' }, `${label}: the original request, not the replay's`);
  }
  const otherTable = request(prefix, { ClientToken: input.ClientToken }, randomName('import-'));
  const conflict = await t.throwsAsync(ddb.send(new ImportTableCommand(otherTable)));
  t.is(conflict?.name, 'ImportConflictException');
  t.regex(conflict!.message, /Duplicate request detected with conflicting parameters/);
  t.is((await t.throwsAsync(ddb.send(new DescribeTableCommand({ TableName: otherTable.TableCreationParameters!.TableName }))))?.name, 'ResourceNotFoundException');

  // Once the import has ended its table exists: a replay is ResourceInUseException, the token is not consulted.
  const d = await finished(ddb, first.ImportArn!);
  t.like(d, { ImportStatus: 'COMPLETED', ImportedItemCount: 20000 });
  const after = await t.throwsAsync(ddb.send(new ImportTableCommand(input)));
  t.is(after?.name, 'ResourceInUseException');
  t.regex(after!.message, /Table already exists: /);
  const imports = await ddb.send(new ListImportsCommand({ TableArn: first.TableArn }));
  t.is(imports.ImportSummaryList?.length, 1, 'no second import');
});

test('ClientToken after an import that failed and left no table: the token still names that import (8-hour window); a new token starts a new one', async (t) => {
  const { ddb } = clients(t);
  const prefix = await upload({ 'part-00000.json.gz': gzipSync(text([line('A', '1')])) });
  const missing = request(prefix, { S3BucketSource: { S3Bucket: randomName('no-such-bucket-'), S3KeyPrefix: prefix } });
  const failed = await importAndWait(t, ddb, missing);
  t.like(failed, { ImportStatus: 'FAILED', FailureCode: 'S3NoSuchBucket' });
  const TableName = missing.TableCreationParameters!.TableName!;
  t.is((await t.throwsAsync(ddb.send(new DescribeTableCommand({ TableName }))))?.name, 'ResourceNotFoundException');
  // The bucket fixed, the same token: the FAILED import comes back, nothing is started.
  const fixed = { ...missing, S3BucketSource: { S3Bucket: BUCKET, S3KeyPrefix: prefix } };
  t.like((await ddb.send(new ImportTableCommand(fixed))).ImportTableDescription, { ImportArn: failed.ImportArn, ImportStatus: 'FAILED', S3BucketSource: missing.S3BucketSource });
  t.is((await t.throwsAsync(ddb.send(new DescribeTableCommand({ TableName }))))?.name, 'ResourceNotFoundException');
  const retried = await importAndWait(t, ddb, { ...fixed, ClientToken: randomName('token-') });
  t.not(retried.ImportArn, failed.ImportArn);
  t.like(retried, { ImportStatus: 'COMPLETED', ImportedItemCount: 1 });
});

test('ImportTable refuses a table that exists, and requests DynamoDB would refuse', async (t) => {
  const { ddb } = clients(t);
  const prefix = await upload({ 'part-00000.json.gz': gzipSync(text([line('A', '1')])) });
  const existing = request(prefix);
  await importAndWait(t, ddb, existing);
  const again = await t.throwsAsync(ddb.send(new ImportTableCommand({ ...existing, ClientToken: randomName('token-') })));
  t.is(again?.name, 'ResourceInUseException');
  t.regex(again!.message, /Table already exists: /);

  const invalid = async (input: ImportTableCommandInput): Promise<string> => {
    const err = await t.throwsAsync(ddb.send(new ImportTableCommand(input)));
    t.is(err?.name, 'ValidationException', err?.message);
    return err!.message;
  };
  const base = request(prefix);
  t.regex(await invalid({ ...base, InputFormat: 'PARQUET' as never }), /inputFormat.*enum value set/);
  t.regex(await invalid({ ...base, InputCompressionType: 'BZIP2' as never }), /inputCompressionType/);
  t.regex(await invalid({ ...base, InputFormatOptions: { Csv: { Delimiter: ',' } } }), /Csv can only be specified when InputFormat is CSV/);
  t.regex(await invalid({ ...base, S3BucketSource: { S3Bucket: BUCKET, S3BucketOwner: 'me' } }), /s3BucketOwner/);
  const params = base.TableCreationParameters!;
  t.regex(await invalid({ ...base, TableCreationParameters: { ...params, AttributeDefinitions: params.AttributeDefinitions!.slice(1) } }),
    /Some index key attributes are not defined in AttributeDefinitions/);
  t.regex(await invalid({ ...base, TableCreationParameters: { ...params, AttributeDefinitions: [...params.AttributeDefinitions!, { AttributeName: 'X', AttributeType: 'S' }] } }),
    /does not exactly match/);
  t.regex(await invalid({ ...base, TableCreationParameters: { ...params, KeySchema: [...params.KeySchema!].reverse() } }), /first KeySchemaElement is not a HASH/);
  t.regex(await invalid({ ...base, TableCreationParameters: { ...params, BillingMode: 'PROVISIONED' } }), /ReadCapacityUnits/);
  // None of the refused requests left a table behind.
  t.is((await t.throwsAsync(ddb.send(new DescribeTableCommand({ TableName: params.TableName }))))?.name, 'ResourceNotFoundException');
  t.is((await t.throwsAsync(ddb.send(new DescribeImportCommand({ ImportArn: `${(await ddb.send(new DescribeTableCommand({ TableName: existing.TableCreationParameters!.TableName }))).Table!.TableArn}/import/01658528578619-0badf00d` }))))?.name, 'ImportNotFoundException');
});

test('one bad item: ErrorCount 1, FAILED with ItemValidationError, the table keeps the valid items, the log names file and itemIndex', async (t) => {
  const { ddb, logs } = clients(t);
  const bad = JSON.stringify({ Item: { PK: { S: 'B' } } }); // no SK
  const prefix = await upload({
    'a/part-00000.json.gz': gzipSync(text([line('A', '1'), line('A', '2')])),
    'b/part-00000.json.gz': gzipSync(text([line('B', '1'), line('B', '2'), bad])),
  });
  const d = await importAndWait(t, ddb, request(prefix));
  t.like(d, {
    ImportStatus: 'FAILED', FailureCode: 'ItemValidationError', ErrorCount: 1, ProcessedItemCount: 5, ImportedItemCount: 4,
    FailureMessage: 'Some of the items failed validation checks and were not imported. Please check CloudWatch error logs for more details.',
  });
  const items = await tableItems(ddb, d.TableCreationParameters!.TableName!);
  t.deepEqual([...items.keys()].sort(), ['A|1', 'A|2', 'B|1', 'B|2']);

  const events = await errorEvents(logs, d);
  t.deepEqual(events, [{
    itemS3Pointer: { bucket: BUCKET, key: `${prefix}b/part-00000.json.gz`, itemIndex: 2 },
    importArn: d.ImportArn!,
    errorMessages: ['One or more parameter values were invalid: Missing the key SK in the item'],
  }]);
  // The same event from the import's error stream.
  const stream = await logs.send(new GetLogEventsCommand({ logGroupName: '/aws-dynamodb/imports', logStreamName: `${d.ImportArn!.split('/').pop()}/error`, startFromHead: true }));
  t.is(stream.events?.length, 1);
  t.deepEqual(JSON.parse(stream.events![0]!.message!), events[0]);
  t.regex(stream.nextForwardToken!, /^f\/\d+\/s$/);
});

test('an item DynamoDB refuses when written is one error and the object goes on', async (t) => {
  const { ddb, logs } = clients(t);
  const gsiTypeMismatch = line('A', '2', { GSI1PK: { N: '1' }, GSI1SK: { S: 'x' } });
  const prefix = await upload({ 'part-00000.json.gz': gzipSync(text([line('A', '1'), gsiTypeMismatch, line('A', '3')])) });
  const d = await importAndWait(t, ddb, request(prefix));
  t.like(d, { ImportStatus: 'FAILED', FailureCode: 'ItemValidationError', ErrorCount: 1, ProcessedItemCount: 3, ImportedItemCount: 2 });
  t.deepEqual([...(await tableItems(ddb, d.TableCreationParameters!.TableName!)).keys()].sort(), ['A|1', 'A|3']);
  const [event] = await errorEvents(logs, d);
  t.is(event?.itemS3Pointer.itemIndex, 1);
  t.regex(event!.errorMessages[0]!, /Type mismatch for Index Key/);
});

test('a truncated gzip object: the items before the cut are imported, the rest of it is one error', async (t) => {
  const { ddb, logs } = clients(t);
  const lines = Array.from({ length: 2000 }, (_, i) => line('T', String(i).padStart(5, '0'), { pad: { S: 'x'.repeat(50 + (i % 7)) } }));
  const whole = gzipSync(text(lines));
  const prefix = await upload({ 'a/part-00000.json.gz': whole.subarray(0, Math.floor(whole.length / 2)), 'b/part-00000.json.gz': gzipSync(text([line('U', '1')])) });
  const d = await importAndWait(t, ddb, request(prefix));
  t.like(d, { ImportStatus: 'FAILED', FailureCode: 'ItemValidationError', ErrorCount: 1 });
  const imported = d.ImportedItemCount!;
  t.true(imported > 1 && imported < 2000, `imported ${imported}`);
  t.is(d.ProcessedItemCount, imported + 1);
  const items = await tableItems(ddb, d.TableCreationParameters!.TableName!);
  t.is(items.size, imported);
  t.true(items.has('U|1'), 'the next object is imported');
  t.true(items.has(`T|${String(imported - 2).padStart(5, '0')}`), 'every line before the cut');
  const [event] = await errorEvents(logs, d);
  t.is(event?.itemS3Pointer.key, `${prefix}a/part-00000.json.gz`);
  t.is(event?.itemS3Pointer.itemIndex, imported - 1);
  t.regex(event!.errorMessages[0]!, /unexpected end of file/);
});

test('a malformed line ends its object (one error); the other objects are imported', async (t) => {
  const { ddb, logs } = clients(t);
  const prefix = await upload({
    'a/part-00000.json.gz': gzipSync(text([line('A', '1'), line('A', '2'), line('A', '3'), '{"Item": {"PK": ', line('A', '5'), line('A', '6')])),
    'b/part-00000.json.gz': gzipSync(text([line('B', '1'), line('B', '2')])),
  });
  const d = await importAndWait(t, ddb, request(prefix));
  t.like(d, { ImportStatus: 'FAILED', ErrorCount: 1, ProcessedItemCount: 6, ImportedItemCount: 5 });
  t.deepEqual([...(await tableItems(ddb, d.TableCreationParameters!.TableName!)).keys()].sort(), ['A|1', 'A|2', 'A|3', 'B|1', 'B|2']);
  const [event] = await errorEvents(logs, d);
  t.deepEqual(event?.itemS3Pointer, { bucket: BUCKET, key: `${prefix}a/part-00000.json.gz`, itemIndex: 3 });
  t.false(JSON.stringify(event).includes('"PK"'), 'the log quotes no item content');
});

test('duplicate keys overwrite silently: not errors, not logged, counted as imported', async (t) => {
  const { ddb, logs } = clients(t);
  const prefix = await upload({
    'a/part-00000.json.gz': gzipSync(text([line('D', '1', { v: { S: 'first' } }), line('D', '2', { v: { S: 'first' } }), line('U', '1')])),
    'b/part-00000.json.gz': gzipSync(text([line('D', '1', { v: { S: 'second' } }), line('D', '2', { v: { S: 'second' } })])),
  });
  const d = await importAndWait(t, ddb, request(prefix));
  // What AWS reports: ImportedItemCount counts writes (5), not surviving items (3).
  t.like(d, { ImportStatus: 'COMPLETED', ErrorCount: 0, ProcessedItemCount: 5, ImportedItemCount: 5 });
  const items = await tableItems(ddb, d.TableCreationParameters!.TableName!);
  t.is(items.size, 3, 'two items were lost without a trace');
  t.deepEqual(items.get('D|1')!.v, { S: 'second' });
  t.deepEqual(await errorEvents(logs, d), []);
});

test('a bucket that does not exist fails the import with S3NoSuchBucket and leaves no table', async (t) => {
  const { ddb } = clients(t);
  const input = request('x/', { S3BucketSource: { S3Bucket: randomName('no-such-bucket-'), S3KeyPrefix: 'x/' } });
  const d = await importAndWait(t, ddb, input);
  t.like(d, { ImportStatus: 'FAILED', FailureCode: 'S3NoSuchBucket', ErrorCount: 0, ImportedItemCount: 0 });
  t.is((await t.throwsAsync(ddb.send(new DescribeTableCommand({ TableName: input.TableCreationParameters!.TableName }))))?.name, 'ResourceNotFoundException');
});

test('blank and whitespace-only lines are ignored; a 0-byte object is 0 items (measured uncompressed); a 0-byte GZIP object is an error', async (t) => {
  const { ddb, logs } = clients(t);
  // test_import.py points 6 and 7, measured with InputCompressionType NONE.
  const plain = await upload({ 'a.json': text([line('W', '1'), '', '   ', line('W', '2')]), 'b.json': '' });
  const d = await importAndWait(t, ddb, request(plain, { InputCompressionType: 'NONE' }));
  t.like(d, { ImportStatus: 'COMPLETED', ProcessedItemCount: 2, ImportedItemCount: 2, ErrorCount: 0 });
  t.deepEqual(await errorEvents(logs, d), []);
  // Not measured for GZIP: zero bytes are no gzip stream, and the stricter answer is kept.
  const gz = await upload({ 'a.json.gz': gzipSync(text([line('G', '1')])), 'b.json.gz': '' });
  const g = await importAndWait(t, ddb, request(gz));
  t.like(g, { ImportStatus: 'FAILED', FailureCode: 'ItemValidationError', ImportedItemCount: 1, ErrorCount: 1 });
  const [event] = await errorEvents(logs, g);
  t.is(event?.itemS3Pointer.key, `${gz}b.json.gz`);
  t.regex(event!.errorMessages[0]!, /unexpected end of file/);
});

test('a prefix with no objects completes with an empty table; NONE and CSV inputs import too', async (t) => {
  const { ddb } = clients(t);
  const empty = await importAndWait(t, ddb, request(`${randomName('nothing-')}/`));
  t.like(empty, { ImportStatus: 'COMPLETED', ProcessedItemCount: 0, ImportedItemCount: 0 });
  t.is((await ddb.send(new DescribeTableCommand({ TableName: empty.TableCreationParameters!.TableName }))).Table?.TableStatus, 'ACTIVE');

  const plain = await upload({ 'part-00000.json': text([line('P', '1'), line('P', '2')]) });
  t.like(await importAndWait(t, ddb, request(plain, { InputCompressionType: 'NONE' })), { ImportStatus: 'COMPLETED', ImportedItemCount: 2 });

  const csv = await upload({ 'part-00000.csv': 'PK,SK,name\nC,1,"x, y"\nC,2,\n' });
  const d = await importAndWait(t, ddb, request(csv, { InputFormat: 'CSV', InputCompressionType: 'NONE' }));
  t.like(d, { ImportStatus: 'COMPLETED', ImportedItemCount: 2 });
  const items = await tableItems(ddb, d.TableCreationParameters!.TableName!);
  t.deepEqual(items.get('C|1'), { PK: { S: 'C' }, SK: { S: '1' }, name: { S: 'x, y' } });
  t.deepEqual(items.get('C|2'), { PK: { S: 'C' }, SK: { S: '2' } });
});

test('keys special to JavaScript are ordinary: JSON map keys and CSV header names import as written', async (t) => {
  const { ddb } = clients(t);
  // Text, not JSON.stringify of an object literal: a literal's `__proto__:` sets the prototype instead.
  const data = '{"M":{"__proto__":{"M":{"x":{"N":"1"}}},"constructor":{"S":"c"},"a":{"L":[{"M":{"__proto__":{"N":"2"}}}]}}}';
  const json = await upload({ 'part-00000.json': `{"Item":{"PK":{"S":"J"},"SK":{"S":"1"},"data":${data}}}\n` });
  const j = await importAndWait(t, ddb, request(json, { InputCompressionType: 'NONE' }));
  t.like(j, { ImportStatus: 'COMPLETED', ImportedItemCount: 1, ErrorCount: 0 });
  const got = (await tableItems(ddb, j.TableCreationParameters!.TableName!)).get('J|1') as { data: AttributeValue };
  t.deepEqual(Object.keys(got.data.M!).sort(), ['__proto__', 'a', 'constructor']);
  t.is(canonicalValue(fromAttributeValue(got.data)), canonicalValue(JSON.parse(data)), 'read back with every key and value');

  const csv = await upload({ 'part-00000.csv': 'PK,SK,__proto__,constructor,toString\nC,1,p,c,s\n' });
  const d = await importAndWait(t, ddb, request(csv, { InputFormat: 'CSV', InputCompressionType: 'NONE' }));
  t.like(d, { ImportStatus: 'COMPLETED', ImportedItemCount: 1, ErrorCount: 0 });
  // Read on the wire protocol: the SDK (3.1169) reads a top-level attribute named __proto__ as undefined.
  const { Item: item } = await new DynamoDbLocal(env.DDB_LOCAL_URL!).call<{ Item: Record<string, unknown> }>('GetItem', {
    TableName: d.TableCreationParameters!.TableName, Key: { PK: { S: 'C' }, SK: { S: '1' } },
  });
  t.deepEqual(Object.keys(item).sort(), ['PK', 'SK', '__proto__', 'constructor', 'toString']);
  t.deepEqual(Object.getOwnPropertyDescriptor(item, '__proto__')?.value, { S: 'p' });
});

test('a ZSTD object imports (through the zstd program; apt-get install zstd)', async (t) => {
  t.true(zstdAvailable(), 'the zstd program is installed (apt-get install zstd; .ci/run installs it)');
  const { ddb } = clients(t);
  const { spawnSync } = await import('node:child_process');
  const compressed = spawnSync('zstd', ['-c', '-q'], { input: text([line('Z', '1'), line('Z', '2')]) }).stdout;
  const prefix = await upload({ 'part-00000.json.zst': compressed });
  t.like(await importAndWait(t, ddb, request(prefix, { InputCompressionType: 'ZSTD' })), { ImportStatus: 'COMPLETED', ImportedItemCount: 2 });
});
