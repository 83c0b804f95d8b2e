// `import` mode: ImportTable creates a NEW table from `<run>/items/` (DYNAMODB_JSON,
// GZIP), with TableCreationParameters from model/table-spec.ts. The ClientToken is
// derived from the transform manifest's hash, the table name and the attempt,
// so a rerun of `make load` gets the same import back (DynamoDB keeps a token
// for 8 hours) or finds it on the table, and watches it instead of starting
// another (import-attempts.ts decides which import to watch).
import { importCompressionType, type Compression } from '../lib/compression.ts';
import {
  DescribeImportCommand, type DynamoDBClient, type ImportTableCommandInput, type ImportTableDescription,
} from '@aws-sdk/client-dynamodb';
import { FilterLogEventsCommand, type CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { UserError } from '../lib/errors.ts';
import { debug, formatBytes, progressLine, type Logger } from '../lib/log.ts';
import { sha256Hex } from '../lib/meter.ts';
import { sleep as realSleep } from '../lib/retry.ts';
import type { Storage } from '../lib/storage.ts';
import { parseStoreUri } from '../lib/store-uri.ts';
import type { TransformManifest } from '../lib/transform-manifest.ts';
import { tableCreationParameters, type TableSettings } from '../model/table-spec.ts';

type Client = Pick<DynamoDBClient, 'send'>;

/** Where DynamoDB writes import errors when the import names no other group. */
export const IMPORT_LOG_GROUP = '/aws-dynamodb/imports';

/**
 * `pg2ddb-` and 29 hex digits of sha256(manifest sha256, table name, and the
 * attempt after the first): 36 characters, none of them `$` (the API's pattern
 * ^[^$]+$). Same run, table and attempt ⇒ same token ⇒ ImportTable returns the
 * import already started; attempt 1 keeps the token loads had before attempts.
 */
export function importClientToken(manifestSha256: string, tableName: string, attempt = 1): string {
  if (!Number.isInteger(attempt) || attempt < 1) throw new Error(`invalid import attempt ${attempt}`);
  return `pg2ddb-${sha256Hex(`${manifestSha256}\n${tableName}${attempt > 1 ? `\n${attempt}` : ''}`).slice(0, 29)}`;
}

export interface S3Location { bucket: string; keyPrefix: string }

/** The S3 bucket and key prefix of `<store>/<run>/items/` (ImportTable imports every object under it). */
export function itemsLocation(store: string, run: string): S3Location {
  const location = parseStoreUri(store);
  if (location.kind !== 's3') throw new UserError(`import mode reads the items from S3, but STORE is ${store}: use an s3://bucket/prefix store, or --mode batch`);
  const { bucket, prefix } = location;
  // The trailing slash keeps `<run>/items-old/` and the like out of the import.
  return { bucket, keyPrefix: `${prefix ? `${prefix}/` : ''}${run}/items/` };
}

export interface ImportRequestOptions {
  location: S3Location;
  /** The 12-digit account owning the bucket, when it is not the caller's (cross-account). */
  bucketOwner?: string;
  tableName: string;
  settings: TableSettings;
  clientToken: string;
  /** The item files' compression (the transform manifest's; default gzip). */
  compression?: Compression;
}

export function importTableRequest(o: ImportRequestOptions): ImportTableCommandInput {
  if (o.bucketOwner !== undefined && !/^[0-9]{12}$/.test(o.bucketOwner)) {
    throw new UserError(`invalid --bucket-owner ${JSON.stringify(o.bucketOwner)}: an AWS account id is 12 digits`);
  }
  return {
    ClientToken: o.clientToken,
    S3BucketSource: {
      S3Bucket: o.location.bucket,
      S3KeyPrefix: o.location.keyPrefix,
      ...(o.bucketOwner ? { S3BucketOwner: o.bucketOwner } : {}),
    },
    InputFormat: 'DYNAMODB_JSON',
    InputCompressionType: importCompressionType(o.compression ?? 'gzip'),
    TableCreationParameters: tableCreationParameters(o.tableName, o.settings),
  };
}

/**
 * ImportTable imports every object under the prefix: anything the manifest
 * does not list would be imported too. Returns how many objects are there.
 */
export async function checkItemObjects(run: Storage, manifest: TransformManifest): Promise<number> {
  const expected = new Map(manifest.tables.flatMap((t) => t.parts.map((p) => [p.key, p.bytes] as const)));
  const listed = await run.list('items');
  const present = new Set(listed.map((o) => o.key));
  const extra = listed.filter((o) => !expected.has(o.key));
  const missing = [...expected.keys()].filter((k) => !present.has(k));
  const changed = listed.filter((o) => expected.has(o.key) && expected.get(o.key) !== o.bytes);
  const problems = [
    ...(extra.length ? [`${extra.length} object(s) under items/ that the transform manifest does not list (${keyList(extra.map((o) => o.key))}); ImportTable would import them too`] : []),
    ...(missing.length ? [`${missing.length} item file(s) missing (first: ${missing[0]})`] : []),
    ...(changed.length ? [`${changed.length} item file(s) differ in size from the manifest (first: ${changed[0]!.key})`] : []),
  ];
  // The transform removes item files no unit of the run produces (transform/stale-items.ts) and rewrites missing ones.
  if (problems.length > 0) throw new UserError(`${run.uri}/items/ does not match the transform manifest: ${problems.join('; ')}: rerun make transform for this run (it removes item files no unit produces), then make load`);
  return listed.length;
}

/** Up to five keys, then how many more: enough to find them, short enough for one line. */
function keyList(keys: string[]): string {
  return keys.length <= 5 ? keys.join(', ') : `${keys.slice(0, 5).join(', ')} and ${keys.length - 5} more`;
}

const ENDED = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

function elapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** Polls DescribeImport until the import ends, showing processed items and bytes and the time elapsed. */
export async function watchImport(
  client: Client, first: ImportTableDescription, expectedItems: number, log: Logger,
  opts: { pollMs: number; sleep?: (ms: number) => Promise<void> },
): Promise<ImportTableDescription> {
  const started = first.StartTime ? new Date(first.StartTime).getTime() : Date.now();
  let d = first;
  let status = d.ImportStatus;
  for (;;) {
    const items = d.ProcessedItemCount ?? 0;
    const pct = expectedItems > 0 ? ` (${Math.floor((100 * items) / expectedItems)}%)` : '';
    progressLine.set(`import ${d.ImportStatus}: ${items}/${expectedItems} items${pct}, ${formatBytes(d.ProcessedSizeBytes ?? 0)} processed, ${elapsed(Date.now() - started)}`, true);
    if (ENDED.has(d.ImportStatus ?? '')) break;
    await (opts.sleep ?? realSleep)(opts.pollMs);
    d = (await client.send(new DescribeImportCommand({ ImportArn: d.ImportArn! }))).ImportTableDescription ?? d;
    debug(`DescribeImport: ${d.ImportStatus}, ${d.ProcessedItemCount ?? 0} items processed, ${d.ErrorCount ?? 0} errors`);
    if (d.ImportStatus !== status) {
      status = d.ImportStatus;
      log(`import ${status} after ${elapsed(Date.now() - started)}`);
    }
  }
  progressLine.done();
  return d;
}

/** `/aws-dynamodb/imports` from `arn:aws:logs:…:log-group:/aws-dynamodb/imports:*`. */
export function logGroupName(arn: string | undefined): string {
  const m = /:log-group:(.+?)(?::\*)?$/.exec(arn ?? '');
  return m ? m[1]! : IMPORT_LOG_GROUP;
}

/**
 * The first import errors from CloudWatch Logs. Entries name the S3 object and
 * line of the bad item; only those positions and the error text are shown,
 * never an item's values.
 */
export async function firstImportErrors(logs: Pick<CloudWatchLogsClient, 'send'>, d: ImportTableDescription, limit = 10): Promise<string[]> {
  const group = logGroupName(d.CloudWatchLogGroupArn);
  const importId = (d.ImportArn ?? '').split('/').pop() ?? '';
  const startTime = d.StartTime ? new Date(d.StartTime).getTime() : undefined;
  const endTime = d.EndTime ? new Date(d.EndTime).getTime() + 60_000 : undefined;
  const query = async (byStream: boolean) => (await logs.send(new FilterLogEventsCommand({
    logGroupName: group,
    ...(byStream && importId ? { logStreamNamePrefix: importId } : {}),
    ...(startTime ? { startTime } : {}),
    ...(endTime ? { endTime } : {}),
    limit,
  }))).events ?? [];
  let events = await query(true);
  if (events.length === 0) events = await query(false);
  return events.map((e) => describeLogEvent(e.message ?? ''));
}

export function describeLogEvent(message: string): string {
  try {
    const entry = JSON.parse(message) as { itemS3Pointer?: { bucket?: string; key?: string; itemIndex?: number }; errorMessages?: string[] };
    const at = entry.itemS3Pointer ? `s3://${entry.itemS3Pointer.bucket}/${entry.itemS3Pointer.key} item ${entry.itemS3Pointer.itemIndex}` : 'import';
    return `${at}: ${(entry.errorMessages ?? []).join('; ') || 'error'}`;
  } catch {
    return message.length > 300 ? `${message.slice(0, 300)}…` : message;
  }
}

export interface ImportOutcome { ok: boolean; problems: string[] }

/** The end state against the manifest: COMPLETED, no errors, every item imported. */
export function judgeImport(d: ImportTableDescription, expectedItems: number): ImportOutcome {
  const problems: string[] = [];
  if (d.ImportStatus !== 'COMPLETED') problems.push(`import ended ${d.ImportStatus}${d.FailureCode ? ` with FailureCode ${d.FailureCode}` : ''}${d.FailureMessage ? `: ${d.FailureMessage}` : ''}`);
  if ((d.ErrorCount ?? 0) !== 0) problems.push(`ErrorCount ${d.ErrorCount} (expected 0)`);
  if ((d.ImportedItemCount ?? 0) !== expectedItems) problems.push(`ImportedItemCount ${d.ImportedItemCount ?? 0} ≠ ${expectedItems} items in the transform manifest`);
  if (d.ProcessedItemCount !== undefined && d.ProcessedItemCount !== expectedItems) problems.push(`ProcessedItemCount ${d.ProcessedItemCount} ≠ ${expectedItems}`);
  return { ok: problems.length === 0, problems };
}
