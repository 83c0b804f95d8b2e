// make aws-probe STORE=s3://bucket/prefix: what ImportTable really does, next
// to what the local endpoint (scripts/import-endpoint/) assumes. The endpoint
// follows the API reference, the import guide (S3DataImport.Validation) and
// measurements others published (scylladb/scylladb test/alternator/
// test_import.py); where none of them says, it guessed. Each case below is
// one small import into a table of its own; the probe prints every answer
// beside the endpoint's expectation and exits 1 on any difference.
//
// Against AWS it needs credentials and costs cents (ImportTable bills the
// uncompressed source, here a few kilobytes; the tables hold a few items for
// minutes). It deletes its tables and its objects (under <STORE>/aws-probe-…/)
// when it ends. `make test` runs it against the local stack
// (test/aws-probe.test.ts), so the expectations below stay the endpoint's.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import {
  DeleteTableCommand, DescribeImportCommand, GetItemCommand, ImportTableCommand, ScanCommand,
  type DynamoDBClient, type ImportTableCommandInput, type ImportTableDescription,
} from '@aws-sdk/client-dynamodb';
import { FilterLogEventsCommand, type CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { awsRegion, isLoopbackEndpoint } from '../lib/aws.ts';
import { cloudWatchLogsClient, dynamoClient } from '../lib/aws-dynamodb.ts';
import { UserError, errorMessage } from '../lib/errors.ts';
import { openStorage } from '../lib/storage.ts';
import { parseStoreUri } from '../lib/store-uri.ts';
import { logGroupName } from '../load/import-table.ts';

type Compression = 'NONE' | 'GZIP' | 'ZSTD';
type Answer = string | number;

interface Case {
  name: string;
  /** Where the endpoint's expectation comes from. */
  basis: string;
  compression: Compression;
  /** Object name → its lines; [] is a 0-byte object (not even a compressed empty stream). */
  objects: Record<string, string[]>;
  /** Observation (a key of OBSERVE) → what the endpoint answers. */
  expect: Record<string, Answer>;
}

const item = (pk: string, sk: string, v?: string) => JSON.stringify({ Item: { PK: { S: pk }, SK: { S: sk }, ...(v ? { v: { S: v } } : {}) } });

const CASES: Case[] = [
  {
    name: 'blank-lines', basis: 'measured (test_import.py point 6): ignored', compression: 'NONE',
    objects: { 'a.json': [item('W', '1'), '', '   ', item('W', '2')] },
    expect: { status: 'COMPLETED', 'processed / imported / errors': '2 / 2 / 0' },
  },
  {
    name: 'zero-byte', basis: 'measured (point 7): 0 items', compression: 'NONE',
    objects: { 'a.json': [item('Z', '1')], 'b.json': [] },
    expect: { status: 'COMPLETED', 'processed / imported / errors': '1 / 1 / 0' },
  },
  {
    name: 'zero-byte-gzip', basis: 'guessed (object-records.ts): no gzip stream is one error', compression: 'GZIP',
    objects: { 'a.json.gz': [item('G', '1')], 'b.json.gz': [] },
    expect: { status: 'FAILED ItemValidationError', 'processed / imported / errors': '2 / 1 / 1', 'logged at': 'b.json.gz#0' },
  },
  {
    name: 'zero-byte-zstd', basis: 'guessed (object-records.ts): no zstd frame is one error', compression: 'ZSTD',
    objects: { 'a.json.zst': [item('S', '1')], 'b.json.zst': [] },
    expect: { status: 'FAILED ItemValidationError', 'processed / imported / errors': '2 / 1 / 1', 'logged at': 'b.json.zst#0' },
  },
  {
    name: 'malformed-mid', basis: 'measured (point 12): the rest of the object is skipped; the guide says only the line', compression: 'GZIP',
    objects: { 'a.json.gz': [item('A', '1'), item('A', '2'), '{"Item": {"PK": ', item('A', '4'), item('A', '5')], 'b.json.gz': [item('B', '1')] },
    expect: {
      status: 'FAILED ItemValidationError', 'processed / imported / errors': '4 / 3 / 1', 'items in the table': 3, 'logged at': 'a.json.gz#2',
      'log stream': '<import id>/error', 'log event': '{errorMessages:[string],importArn,itemS3Pointer:{bucket,itemIndex,key}}',
    },
  },
  {
    name: 'duplicate-keys', basis: 'the guide: overwritten, no error; which survives is guessed (the last in key order)', compression: 'GZIP',
    objects: { 'a.json.gz': [item('D', '1', 'first'), item('D', '1', 'second'), item('D', '2', 'first')], 'b.json.gz': [item('D', '2', 'second')] },
    expect: { status: 'COMPLETED', 'processed / imported / errors': '4 / 4 / 0', 'items in the table': 2, 'D|1 (one object) holds': 'second', 'D|2 (two objects) holds': 'second' },
  },
  {
    name: 'key-size', basis: 'DynamoDB Local refuses the item when written (item-writer.ts); the object goes on', compression: 'GZIP',
    objects: { 'a.json.gz': [item('K', '1'), item('K'.repeat(2048), '2'), item('K'.repeat(2049), '3'), item('K', 'S'.repeat(1024)), item('K', 'S'.repeat(1025))] },
    expect: { status: 'FAILED ItemValidationError', 'processed / imported / errors': '5 / 3 / 2', 'logged at': 'a.json.gz#2, a.json.gz#4' },
  },
  {
    // Enough items that the local endpoint is still writing when the replays arrive.
    name: 'client-token', basis: 'measured (points 1, 9, 10): replays ignore all but TableName; counters stay 0 until the end', compression: 'NONE',
    objects: { 'a.json': Array.from({ length: 2000 }, (_, i) => item(`T${i % 40}`, String(i).padStart(6, '0'))) },
    expect: {
      status: 'COMPLETED', 'processed / imported / errors': '2000 / 2000 / 0',
      'replay, another prefix': 'the same import, its own source', 'replay, another bucket': 'the same import, its own source',
      'replay, another table': 'ImportConflictException', 'replay once ended': 'ResourceInUseException',
      'while IN_PROGRESS': 'counts 0 / 0 / 0, no ProcessedSizeBytes, no EndTime',
    },
  },
];

interface Clients { ddb: DynamoDBClient; logs: CloudWatchLogsClient; local: boolean }

interface Outcome {
  c: Case;
  bucket: string;
  /** The case's S3KeyPrefix (ends in /). */
  prefix: string;
  table: string;
  started: ImportTableDescription;
  end: ImportTableDescription;
  inProgress: ImportTableDescription[];
  replays: Record<string, string>;
}

const OBSERVE: Record<string, (o: Outcome, x: Clients) => Promise<Answer>> = {
  status: async (o) => [o.end.ImportStatus, o.end.FailureCode].filter(Boolean).join(' '),
  'processed / imported / errors': async (o) => `${o.end.ProcessedItemCount} / ${o.end.ImportedItemCount} / ${o.end.ErrorCount}`,
  'items in the table': async (o, x) => (await x.ddb.send(new ScanCommand({ TableName: o.table, Select: 'COUNT', ConsistentRead: true }))).Count ?? 0,
  'D|1 (one object) holds': (o, x) => valueOf(o, x, 'D', '1'),
  'D|2 (two objects) holds': (o, x) => valueOf(o, x, 'D', '2'),
  'logged at': async (o, x) => (await logEvents(o, x)).map((e) => `${e.event.itemS3Pointer?.key?.slice(o.prefix.length)}#${e.event.itemS3Pointer?.itemIndex}`).sort().join(', ') || 'nothing',
  'log stream': async (o, x) => [...new Set((await logEvents(o, x)).map((e) => e.stream.replace(importId(o.end), '<import id>')))].join(', ') || 'none',
  'log event': async (o, x) => [...new Set((await logEvents(o, x)).map((e) => shape(e.event)))].join(' | ') || 'none',
  'replay, another prefix': async (o) => o.replays.prefix!,
  'replay, another bucket': async (o) => o.replays.bucket!,
  'replay, another table': async (o) => o.replays.table!,
  'replay once ended': async (o) => o.replays.ended!,
  'while IN_PROGRESS': async (o) => [...new Set([o.started, ...o.inProgress].map((d) =>
    `counts ${d.ProcessedItemCount ?? '-'} / ${d.ImportedItemCount ?? '-'} / ${d.ErrorCount ?? '-'}, ${d.ProcessedSizeBytes === undefined ? 'no ' : ''}ProcessedSizeBytes, ${d.EndTime === undefined ? 'no ' : ''}EndTime`))].join(' | '),
};

const importId = (d: ImportTableDescription) => d.ImportArn!.split('/').pop()!;

async function valueOf(o: Outcome, x: Clients, pk: string, sk: string): Promise<Answer> {
  const got = await x.ddb.send(new GetItemCommand({ TableName: o.table, Key: { PK: { S: pk }, SK: { S: sk } }, ConsistentRead: true }));
  return got.Item?.v?.S ?? 'no item';
}

/** A log event's structure, values left out: `{errorMessages:[string],importArn,itemS3Pointer:{…}}`. */
function shape(value: unknown): string {
  if (Array.isArray(value)) return `[${[...new Set(value.map(shape))].join('|')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => (v && typeof v === 'object' ? `${k}:${shape(v)}` : k)).join(',')}}`;
  }
  return typeof value;
}

const logCache = new Map<string, Promise<{ stream: string; event: { itemS3Pointer?: { key?: string; itemIndex?: number } } }[]>>();

/** The import's error events; CloudWatch delivers them a little after the import ends, so wait for ErrorCount of them. */
function logEvents(o: Outcome, x: Clients) {
  let events = logCache.get(o.end.ImportArn!);
  if (!events) {
    events = (async () => {
      const deadline = Date.now() + (x.local ? 5_000 : 180_000);
      for (;;) {
        const found = await x.logs.send(new FilterLogEventsCommand({ logGroupName: logGroupName(o.end.CloudWatchLogGroupArn), logStreamNamePrefix: importId(o.end) }))
          .then((r) => r.events ?? [], (err: Error) => { if (err.name === 'ResourceNotFoundException') return []; throw err; });
        if (found.length >= (o.end.ErrorCount ?? 0) || Date.now() > deadline) {
          return found.map((e) => ({ stream: e.logStreamName ?? '', event: JSON.parse(e.message ?? '{}') }));
        }
        await sleep(x.local ? 200 : 10_000);
      }
    })();
    logCache.set(o.end.ImportArn!, events);
  }
  return events;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function compress(lines: string[], compression: Compression): Buffer {
  if (lines.length === 0) return Buffer.alloc(0);
  const text = Buffer.from(`${lines.join('\n')}\n`);
  if (compression === 'NONE') return text;
  if (compression === 'GZIP') return gzipSync(text);
  const zstd = spawnSync('zstd', ['-c', '-q'], { input: text });
  if (zstd.status !== 0) throw new UserError('aws-probe: the ZSTD case needs the zstd program (make tools, or apt-get install zstd)');
  return zstd.stdout;
}

function request(c: Case, bucket: string, prefix: string, table: string, token: string): ImportTableCommandInput {
  return {
    ClientToken: token,
    S3BucketSource: { S3Bucket: bucket, S3KeyPrefix: prefix },
    InputFormat: 'DYNAMODB_JSON',
    InputCompressionType: c.compression,
    TableCreationParameters: {
      TableName: table,
      KeySchema: [{ AttributeName: 'PK', KeyType: 'HASH' }, { AttributeName: 'SK', KeyType: 'RANGE' }],
      AttributeDefinitions: [{ AttributeName: 'PK', AttributeType: 'S' }, { AttributeName: 'SK', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    },
  };
}

/** What an ImportTable replay under the same token answers, in a few words. */
async function replay(x: Clients, input: ImportTableCommandInput, original: ImportTableDescription): Promise<string> {
  try {
    const d = (await x.ddb.send(new ImportTableCommand(input))).ImportTableDescription!;
    if (d.ImportArn !== original.ImportArn) return `a new import ${d.ImportArn}`;
    const own = JSON.stringify(d.S3BucketSource) === JSON.stringify(original.S3BucketSource);
    return `the same import, ${own ? 'its own source' : 'the replay\'s source'}`;
  } catch (err) {
    return (err as Error).name;
  }
}

async function probe(store: string, x: Clients, say: (line: string) => void): Promise<{ rows: string[][]; differences: number }> {
  const location = parseStoreUri(store);
  if (location.kind !== 's3') throw new UserError(`aws-probe: STORE must be s3://bucket/prefix (ImportTable reads S3), not ${store}`);
  const run = `aws-probe-${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}-${randomBytes(3).toString('hex')}`;
  const storage = openStorage(store).sub(run);
  const uploaded: string[] = [];
  const tables: string[] = [];
  const outcomes: Outcome[] = [];
  try {
    for (const c of CASES) {
      for (const [name, lines] of Object.entries(c.objects)) {
        await storage.put(`${c.name}/${name}`, compress(lines, c.compression));
        uploaded.push(`${c.name}/${name}`);
      }
    }
    say(`uploaded ${uploaded.length} object(s) to ${storage.uri}/; starting ${CASES.length} imports`);
    for (const c of CASES) {
      const prefix = `${location.prefix ? `${location.prefix}/` : ''}${run}/${c.name}/`;
      const table = `${run}-${c.name}`;
      const input = request(c, location.bucket, prefix, table, `${run}-${c.name}`);
      tables.push(table);
      const started = (await x.ddb.send(new ImportTableCommand(input))).ImportTableDescription!;
      const replays: Record<string, string> = {};
      if (c.name === 'client-token') {
        const otherTable = `${table}-other`;
        tables.push(otherTable);
        replays.prefix = await replay(x, { ...input, S3BucketSource: { ...input.S3BucketSource!, S3KeyPrefix: `${prefix}other/` } }, started);
        replays.bucket = await replay(x, { ...input, S3BucketSource: { ...input.S3BucketSource!, S3Bucket: `${run}-no-such-bucket` } }, started);
        replays.table = await replay(x, { ...input, TableCreationParameters: { ...input.TableCreationParameters!, TableName: otherTable } }, started);
      }
      outcomes.push({ c, bucket: location.bucket, prefix, table, started, end: started, inProgress: [], replays });
    }
    const deadline = Date.now() + 45 * 60_000;
    for (let running = outcomes; running.length > 0;) {
      if (Date.now() > deadline) throw new UserError(`aws-probe: imports still IN_PROGRESS after 45 minutes: ${running.map((o) => o.end.ImportArn).join(', ')}`);
      await sleep(x.local ? 100 : 15_000);
      for (const o of running) {
        o.end = (await x.ddb.send(new DescribeImportCommand({ ImportArn: o.started.ImportArn }))).ImportTableDescription!;
        if (o.end.ImportStatus === 'IN_PROGRESS') o.inProgress.push(o.end);
      }
      const before = running.length;
      running = running.filter((o) => o.end.ImportStatus === 'IN_PROGRESS');
      if (running.length < before) say(`${outcomes.length - running.length} of ${outcomes.length} imports ended`);
    }
    for (const o of outcomes) {
      if (o.c.name !== 'client-token') continue;
      o.replays.ended = await replay(x, request(o.c, o.bucket, o.prefix, o.table, `${run}-${o.c.name}`), o.started);
    }

    const rows: string[][] = [];
    let differences = 0;
    for (const o of outcomes) {
      for (const [what, expected] of Object.entries(o.c.expect)) {
        const answered = await OBSERVE[what]!(o, x);
        const same = String(answered) === String(expected);
        if (!same) differences++;
        rows.push([o.c.name, what, String(expected), String(answered), same ? 'same' : 'DIFFERENT']);
      }
    }
    return { rows, differences };
  } finally {
    await cleanUp(x, storage, uploaded, tables, say);
  }
}

/** Deletes the probe's tables (once their imports ended) and objects; says what it could not. */
async function cleanUp(x: Clients, storage: ReturnType<typeof openStorage>, objects: string[], tables: string[], say: (line: string) => void): Promise<void> {
  for (const TableName of tables) {
    await x.ddb.send(new DeleteTableCommand({ TableName })).catch((err: Error) => {
      if (err.name !== 'ResourceNotFoundException') say(`could not delete table ${TableName} (${err.name}): delete it yourself`);
    });
  }
  for (const key of objects) await storage.delete(key).catch((err) => say(`could not delete ${storage.uri}/${key}: ${errorMessage(err)}`));
}

function table(rows: string[][]): string {
  const header = ['case', 'observation', 'endpoint expects', 'answered', 'verdict'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function main(): Promise<number> {
  const store = process.env.STORE;
  if (!store) throw new UserError('aws-probe: set STORE=s3://bucket/prefix (the probe writes and deletes objects under <prefix>/aws-probe-…/)', 2);
  const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
  const x: Clients = { ddb: dynamoClient(), logs: cloudWatchLogsClient(), local: isLoopbackEndpoint(endpoint) };
  const say = (line: string) => process.stderr.write(`aws-probe: ${line}\n`);
  say(`asking ${endpoint ?? `DynamoDB in ${await awsRegion()}`} (${CASES.length} imports, tables and objects deleted at the end)`);
  try {
    const { rows, differences } = await probe(store, x, say);
    process.stdout.write(`${table(rows)}\n`);
    for (const c of CASES) process.stdout.write(`  ${c.name}: ${c.basis}\n`);
    say(differences === 0 ? 'no difference' : `${differences} difference(s): fix scripts/import-endpoint/ (and its test) to follow AWS`);
    return differences === 0 ? 0 : 1;
  } finally {
    x.ddb.destroy();
    x.logs.destroy();
  }
}

main().then((code) => { process.exitCode = code; }, (err: unknown) => {
  process.stderr.write(`aws-probe: error: ${errorMessage(err)}\n`);
  process.exitCode = err instanceof UserError ? err.exitCode : 1;
});
