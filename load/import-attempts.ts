// Which import a `make load` watches: the one this run already started (from
// `load/import.json`, or found on the table by its ClientToken), or a new
// attempt once the last one ended FAILED or CANCELLED and left no table.
//
// Attempt n has its own ClientToken (importClientToken(…, n)): DynamoDB keeps
// a token for 8 hours after its import ended and answers it with that import
// (ImportTable, ClientToken), so a new attempt needs a new token. ImportTable
// only creates a new table, so a failed import's table must be deleted by the
// user before another attempt: load says so rather than deleting anything.
import {
  DescribeImportCommand, ImportTableCommand, ListImportsCommand,
  type DynamoDBClient, type ImportTableCommandInput, type ImportTableDescription,
} from '@aws-sdk/client-dynamodb';
import { UserError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { Storage } from '../lib/storage.ts';
import { describeError } from '../lib/dynamo-errors.ts';
import { IMPORT_LOG_GROUP, importClientToken } from './import-table.ts';
import { describeTable } from '../lib/describe-table.ts';
import { IMPORT_RECORD_KEY } from '../lib/run-layout.ts';

type Client = Pick<DynamoDBClient, 'send'>;

/** Attempts looked for by token on a table load did not record (another machine's load). */
const MAX_ATTEMPTS = 20;
const ENDED_BADLY = new Set(['FAILED', 'CANCELLED']);

export interface ImportAttempt {
  attempt: number;
  client_token: string;
  import_arn: string;
  table_arn?: string;
  status?: string;
  failure_code?: string;
  failure_message?: string;
  started_at?: string;
  ended_at?: string;
}

/** `load/import.json`: the table and every import attempt into it, oldest first. */
interface ImportRecordFile { table: string; attempts: ImportAttempt[] }

export interface ImportPlan {
  manifestSha256: string;
  tableName: string;
  /** The ImportTable request under a given ClientToken. */
  request: (clientToken: string) => ImportTableCommandInput;
  /** Throws when a new import must not start (import-preflight.ts); not run to resume one. */
  preflight: () => Promise<void>;
}

export interface StartOrResume { description: ImportTableDescription; resumed: boolean; attempts: ImportAttempt[] }

export function attemptOf(attempt: number, d: ImportTableDescription): ImportAttempt {
  const iso = (t: Date | undefined) => (t ? new Date(t).toISOString() : undefined);
  return {
    attempt,
    client_token: d.ClientToken ?? '',
    import_arn: d.ImportArn ?? '',
    ...(d.TableArn ? { table_arn: d.TableArn } : {}),
    ...(d.ImportStatus ? { status: d.ImportStatus } : {}),
    ...(d.FailureCode ? { failure_code: d.FailureCode } : {}),
    ...(d.FailureMessage ? { failure_message: d.FailureMessage } : {}),
    ...(d.StartTime ? { started_at: iso(d.StartTime) } : {}),
    ...(d.EndTime ? { ended_at: iso(d.EndTime) } : {}),
  };
}

/** One line per attempt, for the log and the run report. */
export function describeAttempt(a: ImportAttempt): string {
  const failure = a.failure_code ? ` (${a.failure_code}${a.failure_message ? `: ${a.failure_message}` : ''})` : '';
  return `import attempt ${a.attempt} ${a.import_arn}: ${a.status ?? 'unknown'}${failure}`;
}

/**
 * The attempts recorded for this table, whatever transform manifest each
 * imported: a run transformed again to fix a failed import's cause goes on
 * counting. Another table's record is not this load's.
 */
export async function recordedAttempts(run: Storage, tableName: string): Promise<ImportAttempt[]> {
  const text = await run.getText(IMPORT_RECORD_KEY);
  if (!text) return [];
  const parsed = JSON.parse(text) as Partial<ImportRecordFile> & { import_arn?: string; client_token?: string; table_arn?: string };
  if (parsed.table !== tableName) return [];
  // The record before attempts: one import, attempt 1.
  return parsed.attempts ?? (parsed.import_arn ? [{ attempt: 1, client_token: parsed.client_token ?? '', import_arn: parsed.import_arn, table_arn: parsed.table_arn }] : []);
}

async function writeAttempts(run: Storage, tableName: string, attempts: ImportAttempt[]): Promise<void> {
  const record: ImportRecordFile = { table: tableName, attempts };
  await run.put(IMPORT_RECORD_KEY, `${JSON.stringify(record, null, 2)}\n`);
}

/** The watched import's end state into its attempt, so load/import.json says how each attempt ended. */
export async function recordAttemptEnd(run: Storage, tableName: string, attempts: ImportAttempt[], end: ImportTableDescription): Promise<void> {
  const last = attempts.at(-1);
  if (!last || last.import_arn !== end.ImportArn) return;
  attempts[attempts.length - 1] = attemptOf(last.attempt, end);
  await writeAttempts(run, tableName, attempts);
}

async function describeImport(client: Client, arn: string): Promise<ImportTableDescription | undefined> {
  try {
    return (await client.send(new DescribeImportCommand({ ImportArn: arn }))).ImportTableDescription;
  } catch (err) {
    // Imports are kept 90 days (ListImports); an unknown one is simply not there any more.
    if ((err as { name?: string }).name === 'ImportNotFoundException') return undefined;
    throw err;
  }
}

/**
 * The newest import on `tableArn` carrying one of this run's attempt tokens,
 * with its attempt number (ListImports, then DescribeImport each).
 */
export async function findOwnImport(client: Client, tableArn: string, plan: Pick<ImportPlan, 'manifestSha256' | 'tableName'>): Promise<{ attempt: number; description: ImportTableDescription } | undefined> {
  const tokens = new Map(Array.from({ length: MAX_ATTEMPTS }, (_, i) => [importClientToken(plan.manifestSha256, plan.tableName, i + 1), i + 1] as const));
  let found: { attempt: number; description: ImportTableDescription } | undefined;
  let next: string | undefined;
  do {
    const page = await client.send(new ListImportsCommand({ TableArn: tableArn, ...(next ? { NextToken: next } : {}) }));
    for (const summary of page.ImportSummaryList ?? []) {
      const d = await describeImport(client, summary.ImportArn!);
      const attempt = tokens.get(d?.ClientToken ?? '');
      if (d && attempt !== undefined && attempt > (found?.attempt ?? 0)) found = { attempt, description: d };
    }
    next = page.NextToken;
  } while (next);
  return found;
}

/**
 * DynamoDB answers a reused ClientToken with the original import whatever
 * S3 source, format or compression the new request names (measured:
 * scylladb/scylladb test/alternator/test_import.py, point 1), so what comes
 * back is compared with what was asked before it is watched.
 */
export function checkImportSource(request: ImportTableCommandInput, d: ImportTableDescription): void {
  const show = (bucket?: string, prefix?: string, format?: string, compression?: string) => `s3://${bucket ?? '?'}/${prefix ?? ''} (${format ?? '?'}, ${compression ?? 'NONE'})`;
  const asked = show(request.S3BucketSource?.S3Bucket, request.S3BucketSource?.S3KeyPrefix, request.InputFormat, request.InputCompressionType);
  const got = show(d.S3BucketSource?.S3Bucket, d.S3BucketSource?.S3KeyPrefix, d.InputFormat, d.InputCompressionType);
  if (asked === got) return;
  const table = request.TableCreationParameters?.TableName;
  throw new UserError(`import ${d.ImportArn} (ClientToken ${d.ClientToken}) into table ${table} reads ${got}, not ${asked} as this load asks: DynamoDB returned the import this token already names. The run's items were imported from another place: point STORE back at that place, or load this one into another table (DDB_TABLE=…)`);
}

function failedTableMessage(tableName: string, a: ImportAttempt): string {
  const id = a.import_arn.split('/').pop();
  return `${describeAttempt(a)}; its table ${tableName} is still there, and ImportTable only creates new tables. Read the errors in CloudWatch log group ${IMPORT_LOG_GROUP} (log streams ${id}/…), fix the cause, delete the table (aws dynamodb delete-table --table-name ${tableName}), then rerun make load: it starts import attempt ${a.attempt + 1}`;
}

/** Why import mode refuses an existing table: ImportTable only creates one. */
export function notOurTableMessage(plan: Pick<ImportPlan, 'manifestSha256' | 'tableName'>): string {
  return `DynamoDB table ${plan.tableName} already exists and was not created by this run's import (no import with this run's ClientToken ${importClientToken(plan.manifestSha256, plan.tableName)} on it). ImportTable only creates new tables: choose another --ddb-table, or upsert into it with --mode batch`;
}

/**
 * Starts the import, resumes the one this run already started, or starts the
 * next attempt after one that ended FAILED or CANCELLED and left no table.
 * Refuses a table this run's imports did not create, and a failed import's
 * table that is still there.
 */
export async function startOrResumeImport(client: Client, run: Storage, plan: ImportPlan, log: Logger): Promise<StartOrResume> {
  const { tableName } = plan;
  const attempts = await recordedAttempts(run, tableName);
  const last = attempts.at(-1);
  if (last) {
    const d = await describeImport(client, last.import_arn);
    if (d) attempts[attempts.length - 1] = attemptOf(last.attempt, d);
    const ours = last.client_token === importClientToken(plan.manifestSha256, tableName, last.attempt);
    if (d && ours && !ENDED_BADLY.has(d.ImportStatus ?? '')) {
      checkImportSource(plan.request(last.client_token), d);
      log(`resuming import ${last.import_arn} (${d.ImportStatus}) recorded in ${IMPORT_RECORD_KEY}`);
      await writeAttempts(run, tableName, attempts);
      return { description: d, resumed: true, attempts };
    }
  }
  const failed = attempts.at(-1) && ENDED_BADLY.has(attempts.at(-1)!.status ?? '') ? attempts.at(-1) : undefined;
  const existing = await describeTable(client, tableName);
  if (existing) {
    if (failed) {
      await writeAttempts(run, tableName, attempts);
      throw new UserError(failedTableMessage(tableName, failed));
    }
    const own = await findOwnImport(client, existing.TableArn!, plan);
    if (!own) throw new UserError(notOurTableMessage(plan));
    const found = attemptOf(own.attempt, own.description);
    const known = [...attempts.filter((a) => a.attempt < own.attempt), found];
    await writeAttempts(run, tableName, known);
    if (ENDED_BADLY.has(found.status ?? '')) throw new UserError(failedTableMessage(tableName, found));
    checkImportSource(plan.request(found.client_token), own.description);
    log(`table ${tableName} was created by this run's import ${found.import_arn} (attempt ${found.attempt}, ${found.status}): resuming`);
    return { description: own.description, resumed: true, attempts: known };
  }
  await plan.preflight();
  const next = (last?.attempt ?? 0) + 1;
  if (failed) log(`${describeAttempt(failed)}, and table ${tableName} does not exist: starting import attempt ${next}`);
  return startAttempt(client, run, plan, attempts, next, log);
}

/**
 * ImportTable under attempt `n`'s token. An import that comes back already
 * ended FAILED or CANCELLED is an earlier load's attempt n (the token still
 * names it for 8 hours): it is recorded, and the next attempt is started.
 */
async function startAttempt(client: Client, run: Storage, plan: ImportPlan, attempts: ImportAttempt[], n: number, log: Logger): Promise<StartOrResume> {
  const { tableName } = plan;
  for (let attempt = n; attempt <= n + MAX_ATTEMPTS; attempt++) {
    const token = importClientToken(plan.manifestSha256, tableName, attempt);
    const request = plan.request(token);
    let d: ImportTableDescription | undefined;
    try {
      d = (await client.send(new ImportTableCommand(request))).ImportTableDescription;
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'IdempotentParameterMismatchException' || name === 'ImportConflictException') {
        throw new UserError(`ImportTable refused ClientToken ${token} for table ${tableName}: ${describeError(err)}. The token stands for this run, table and attempt; DynamoDB answers it with another table's import within its 8-hour window: choose another --ddb-table`);
      }
      if (name === 'ResourceInUseException') throw new UserError(`DynamoDB table ${tableName} already exists: ${describeError(err)}. ImportTable only creates new tables: choose another --ddb-table, or delete the table and rerun`);
      throw new UserError(`ImportTable into table ${tableName} failed: ${describeError(err)}`);
    }
    if (!d?.ImportArn) throw new UserError(`ImportTable into table ${tableName} answered without an ImportArn`);
    attempts.push(attemptOf(attempt, d));
    await writeAttempts(run, tableName, attempts);
    // Whatever its source: the token named it before this request, and it is over.
    if (ENDED_BADLY.has(d.ImportStatus ?? '')) {
      log(`${describeAttempt(attempts.at(-1)!)} (an earlier load's; its token is spent): starting import attempt ${attempt + 1}`);
      continue;
    }
    checkImportSource(request, d);
    log(`import ${d.ImportArn} started (attempt ${attempt}, ClientToken ${token})`);
    return { description: d, resumed: false, attempts };
  }
  throw new UserError(`table ${tableName}: ${MAX_ATTEMPTS} import attempts in a row came back FAILED or CANCELLED: read the errors in CloudWatch log group ${IMPORT_LOG_GROUP} and fix their cause before rerunning make load`);
}
