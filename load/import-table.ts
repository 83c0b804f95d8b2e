// `import` mode: ImportTable creates a NEW table from `<run>/items/` (DYNAMODB_JSON,
// GZIP), with TableCreationParameters from table-spec.ts. The ClientToken is
// derived from the transform manifest's hash and the table name, so a rerun of
// `make load` gets the same import back (DynamoDB keeps a token for 8 hours)
// or finds it on the table, and watches it instead of starting another.
import {
  DescribeImportCommand, ImportTableCommand, ListImportsCommand,
  type DynamoDBClient, type ImportTableCommandInput, type ImportTableDescription,
} from '@aws-sdk/client-dynamodb';
import { FilterLogEventsCommand, type CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { UserError } from '../lib/errors.ts';
import { formatBytes, progressLine, type Logger } from '../lib/log.ts';
import { sha256Hex } from '../lib/meter.ts';
import { sleep as realSleep } from '../lib/retry.ts';
import type { Storage } from '../lib/storage.ts';
import { parseStoreUri } from '../lib/store-uri.ts';
import type { TransformManifest } from '../lib/transform-manifest.ts';
import { describeError } from './dynamo-errors.ts';
import { describeTable } from './table-settings.ts';
import { tableCreationParameters, type TableSettings } from './table-spec.ts';

type Client = Pick<DynamoDBClient, 'send'>;

export const IMPORT_RECORD_KEY = 'load/import.json';
/** Where DynamoDB writes import errors when the import names no other group. */
export const IMPORT_LOG_GROUP = '/aws-dynamodb/imports';

/**
 * `pg2ddb-` and 29 hex digits of sha256(manifest sha256, table name): 36
 * characters, none of them `$` (the API's pattern ^[^$]+$). Same run and table
 * ⇒ same token ⇒ ImportTable returns the import already started.
 */
export function importClientToken(manifestSha256: string, tableName: string): string {
  return `pg2ddb-${sha256Hex(`${manifestSha256}\n${tableName}`).slice(0, 29)}`;
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
    InputCompressionType: 'GZIP',
    TableCreationParameters: tableCreationParameters(o.tableName, o.settings),
  };
}

/** ImportTable imports every object under the prefix: anything the manifest does not list would be imported too. */
export async function checkItemObjects(run: Storage, manifest: TransformManifest): Promise<void> {
  const expected = new Map(manifest.tables.flatMap((t) => t.parts.map((p) => [p.key, p.bytes] as const)));
  const listed = await run.list('items');
  const extra = listed.filter((o) => !expected.has(o.key));
  const missing = [...expected.keys()].filter((k) => !listed.some((o) => o.key === k));
  const changed = listed.filter((o) => expected.has(o.key) && expected.get(o.key) !== o.bytes);
  const problems = [
    ...(extra.length ? [`${extra.length} object(s) under items/ that the transform manifest does not list (${keyList(extra.map((o) => o.key))}); ImportTable would import them too`] : []),
    ...(missing.length ? [`${missing.length} item file(s) missing (first: ${missing[0]})`] : []),
    ...(changed.length ? [`${changed.length} item file(s) differ in size from the manifest (first: ${changed[0]!.key})`] : []),
  ];
  // The transform removes item files no unit of the run produces (transform/stale-items.ts) and rewrites missing ones.
  if (problems.length > 0) throw new UserError(`${run.uri}/items/ does not match the transform manifest: ${problems.join('; ')}: rerun make transform for this run (it removes item files no unit produces), then make load`);
}

/** Up to five keys, then how many more: enough to find them, short enough for one line. */
function keyList(keys: string[]): string {
  return keys.length <= 5 ? keys.join(', ') : `${keys.slice(0, 5).join(', ')} and ${keys.length - 5} more`;
}

/** The import on `tableArn` that carries our ClientToken, if any (ListImports, then DescribeImport each). */
export async function findOwnImport(client: Client, tableArn: string, clientToken: string): Promise<ImportTableDescription | undefined> {
  let next: string | undefined;
  do {
    const page = await client.send(new ListImportsCommand({ TableArn: tableArn, ...(next ? { NextToken: next } : {}) }));
    for (const summary of page.ImportSummaryList ?? []) {
      const d = (await client.send(new DescribeImportCommand({ ImportArn: summary.ImportArn! }))).ImportTableDescription;
      if (d?.ClientToken === clientToken) return d;
    }
    next = page.NextToken;
  } while (next);
  return undefined;
}

export interface StartOrResume { description: ImportTableDescription; resumed: boolean }

/**
 * Starts the import, or finds the one this run already started. Refuses when
 * the table exists and no import with our token created it.
 */
export async function startOrResumeImport(client: Client, run: Storage, request: ImportTableCommandInput, log: Logger): Promise<StartOrResume> {
  const tableName = request.TableCreationParameters!.TableName!;
  const token = request.ClientToken!;
  const recorded = await run.getText(IMPORT_RECORD_KEY);
  if (recorded) {
    const record = JSON.parse(recorded) as { import_arn: string; client_token: string; table: string };
    if (record.client_token === token && record.table === tableName) {
      const d = (await client.send(new DescribeImportCommand({ ImportArn: record.import_arn }))).ImportTableDescription;
      if (d?.ClientToken === token) {
        log(`resuming import ${record.import_arn} (${d.ImportStatus}) recorded in ${IMPORT_RECORD_KEY}`);
        return { description: d, resumed: true };
      }
    }
  }
  const existing = await describeTable(client, tableName);
  if (existing) {
    const own = await findOwnImport(client, existing.TableArn!, token);
    if (!own) {
      throw new UserError(`DynamoDB table ${tableName} already exists and was not created by this run's import (no import with ClientToken ${token} on it). ImportTable only creates new tables: choose another --ddb-table, or upsert into it with --mode batch`);
    }
    log(`table ${tableName} was created by this run's import ${own.ImportArn} (${own.ImportStatus}): resuming`);
    await recordImport(run, own, tableName);
    return { description: own, resumed: true };
  }
  let description: ImportTableDescription | undefined;
  try {
    description = (await client.send(new ImportTableCommand(request))).ImportTableDescription;
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name === 'IdempotentParameterMismatchException' || name === 'ImportConflictException') {
      throw new UserError(`ImportTable refused ClientToken ${token}: ${describeError(err)}. The token stands for this run and table; a different request under it means the table spec or S3 source changed within DynamoDB's 8-hour window`);
    }
    if (name === 'ResourceInUseException') throw new UserError(`DynamoDB table ${tableName} already exists: ${describeError(err)}`);
    throw new UserError(`ImportTable failed: ${describeError(err)}`);
  }
  if (!description?.ImportArn) throw new UserError('ImportTable answered without an ImportArn');
  log(`import ${description.ImportArn} started (ClientToken ${token})`);
  await recordImport(run, description, tableName);
  return { description, resumed: false };
}

async function recordImport(run: Storage, d: ImportTableDescription, table: string): Promise<void> {
  await run.put(IMPORT_RECORD_KEY, `${JSON.stringify({ import_arn: d.ImportArn, client_token: d.ClientToken, table, table_arn: d.TableArn }, null, 2)}\n`);
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
