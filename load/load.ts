// The load stage: the run's items into one DynamoDB table, by ImportTable
// (a new table, on AWS) or by BatchWriteItem (any endpoint; an upsert, so it
// also reruns one table into an existing table), then the settings ImportTable
// cannot set, then `<run>/load/report.json`. A dry run is dry-run.ts: it never comes here.
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { awsRegion, s3Client } from '../lib/aws.ts';
import { cloudWatchLogsClient, dynamoClient } from '../lib/aws-dynamodb.ts';
import { runStorage } from '../lib/config.ts';
import { UserError, errorMessage } from '../lib/errors.ts';
import { Progress, formatBytes, type Logger } from '../lib/log.ts';
import type { Storage } from '../lib/storage.ts';
import type { TransformTable } from '../lib/transform-manifest.ts';
import { toItemValue } from '../model/attribute-json.ts';
import { batchWrite, emptyBatchWriteStats, type SizedWrite } from '../lib/batch-write.ts';
import { describeAttempt, recordAttemptEnd, recordedAttempts, startOrResumeImport, type StartOrResume } from './import-attempts.ts';
import { MAX_IMPORTS_IN_PROGRESS, bucketRegion, checkImportPreflight, importsInProgress } from './import-preflight.ts';
import {
  checkItemObjects, firstImportErrors, importTableRequest, itemsLocation, judgeImport, logGroupName, watchImport,
} from './import-table.ts';
import { checkItemFiles, itemKey, readLoadableRun, readPartItems, type LoadableRun } from '../lib/item-files.ts';
import { PartKeys, finishLoadedKeys, readLoadedKeys } from './loaded-keys.ts';
import { recordLoaded, refuseLoadAfterCatchup } from '../lib/loaded-tables.ts';
import { pruneEntity } from './prune.ts';
import { writeLoadReport, type LoadReport, type LoadTableReport } from './report.ts';
import { describeTable } from '../lib/describe-table.ts';
import { applyTableSettings, ensureTable, waitActive } from './table-settings.ts';
import { checkTableName, type TableSettings } from '../model/table-spec.ts';
import type { LoadMode } from './load-mode.ts';
import { LOAD_REPORT_KEY } from '../lib/run-layout.ts';

export type { LoadMode } from './load-mode.ts';

export interface LoadOptions {
  store: string;
  run: string;
  /** Only these source tables (batch mode); empty: every table. */
  tables?: string[];
  tableName: string;
  mode: LoadMode;
  concurrency: number;
  settings: TableSettings;
  /** Batch mode with tables: delete their entities' items the run does not have. */
  prune?: boolean;
  /** Import mode: the bucket's account when it is not the caller's. */
  bucketOwner?: string;
  pollMs?: number;
  /** Import mode: the account's quota of imports IN_PROGRESS at once (AWS: 50). */
  importsInProgressLimit?: number;
  log: Logger;
  /** Clients (tests stub `send`); default: from the environment (AWS_ENDPOINT_URL_*). */
  dynamo?: Pick<DynamoDBClient, 'send'>;
  logs?: Pick<CloudWatchLogsClient, 'send'>;
  s3?: Pick<S3Client, 'send'>;
  /** The table's region; default: the SDK's chain (lib/aws.ts awsRegion). */
  region?: string;
  sleep?: (ms: number) => Promise<void>;
}

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  checkTableName(options.tableName);
  const run = runStorage(options.store, options.run);
  const loadable = await readLoadableRun(run, options.run, options.tables);
  await refuseLoadAfterCatchup(run, options.run, options.tableName);
  await checkItemFiles(run, loadable.tables, options.concurrency);
  if (options.prune && (!options.tables || options.tables.length === 0)) {
    throw new UserError('--prune deletes items of the tables being reloaded: name them with TABLE=... (or --table)');
  }
  const client = options.dynamo ?? dynamoClient();
  const started = new Date();
  const report: LoadReport = {
    format: 'pg2ddb.load/1', run_id: options.run, mode: options.mode, table_name: options.tableName,
    transform_manifest_sha256: loadable.manifestSha256, created_table: false,
    started_at: started.toISOString(), finished_at: '', seconds: 0,
    tables: loadable.tables.map((t) => ({ name: t.name, ...(t.entity_type ? { entity_type: t.entity_type } : {}), items: t.items_out })),
    totals: { items: sum(loadable.tables, (t) => t.items_out), bytes: sum(loadable.tables, (t) => t.bytes) },
    ok: false, problems: [],
  };
  let failure: unknown;
  try {
    if (options.mode === 'import') await importMode(options, run, loadable, client, report);
    else await batchMode(options, run, loadable, client, report);
  } catch (err) {
    failure = err;
    report.problems.push(errorMessage(err));
  }
  const finished = new Date();
  report.finished_at = finished.toISOString();
  report.seconds = (finished.getTime() - started.getTime()) / 1000;
  report.ok = report.problems.length === 0;
  await writeLoadReport(run, report);
  if (failure !== undefined) throw failure;
  if (report.problems.length > 0) throw new UserError(`load failed: ${report.problems.join('; ')} (see ${run.uri}/${LOAD_REPORT_KEY})`);
  options.log(`${report.totals.items} items in ${report.tables.length} table(s) loaded into ${options.tableName} in ${report.seconds.toFixed(1)} s`);
  return report;
}

const sum = <T>(xs: T[], f: (x: T) => number) => xs.reduce((n, x) => n + f(x), 0);

/** Import mode: every table's key records (the table is new, so nothing earlier). */
async function recordImportedKeys(options: LoadOptions, run: Storage, loadable: LoadableRun): Promise<void> {
  for (const entry of loadable.tables) {
    for (const part of entry.parts) {
      const partKeys = new PartKeys();
      for await (const fileItem of readPartItems(run, entry.name, part)) partKeys.add(itemKey(fileItem.item));
      await partKeys.write(run, options.tableName, entry.name, part.key);
    }
    await finishLoadedKeys(run, options.tableName, entry.name, entry.parts.map((p) => p.key), new Set());
  }
}

async function importMode(options: LoadOptions, run: Storage, loadable: LoadableRun, client: Pick<DynamoDBClient, 'send'>, report: LoadReport): Promise<void> {
  if (options.tables && options.tables.length > 0) {
    throw new UserError('import mode creates a new table from every item file of the run; to reload some tables into an existing table use --mode batch');
  }
  if (options.prune) throw new UserError('--prune applies to batch mode only: an imported table holds exactly the run');
  const location = itemsLocation(options.store, options.run);
  const objects = await checkItemObjects(run, loadable.manifest);
  const expected = loadable.manifest.totals.items_out;
  const tableName = options.tableName;
  const preflight = async () => {
    const region = options.region ?? await awsRegion();
    checkImportPreflight({
      tableName, bucket: location.bucket, keyPrefix: location.keyPrefix, region, objects,
      rawBytes: loadable.manifest.totals.raw_bytes,
      bucketRegion: await bucketRegion(options.s3 ?? s3Client(), location.bucket, options.bucketOwner),
      importsInProgress: await importsInProgress(client),
      importsInProgressLimit: options.importsInProgressLimit ?? MAX_IMPORTS_IN_PROGRESS,
    });
  };
  const plan = {
    manifestSha256: loadable.manifestSha256,
    tableName,
    request: (clientToken: string) => importTableRequest({
      location, bucketOwner: options.bucketOwner, tableName, settings: options.settings, clientToken,
      compression: loadable.manifest.options.compression ?? 'gzip',
    }),
    preflight,
  };
  let started: StartOrResume;
  try {
    started = await startOrResumeImport(client, run, plan, options.log);
  } catch (err) {
    // A refusal after earlier attempts (a failed import's table still there): the report lists them.
    const attempts = await recordedAttempts(run, tableName);
    if (attempts.length > 0) report.import = { client_token: attempts.at(-1)!.client_token, resumed: false, attempt: attempts.at(-1)!.attempt, attempts };
    throw err;
  }
  const { description, resumed, attempts } = started;
  const imported: NonNullable<LoadReport['import']> = { import_arn: description.ImportArn, client_token: description.ClientToken ?? '', resumed, attempt: attempts.at(-1)?.attempt ?? 1, attempts };
  report.import = imported;
  report.table_arn = description.TableArn;
  report.created_table = true;
  // Recorded while the import runs (it takes minutes on AWS): what a later --prune of one table may delete.
  let recordFailure: unknown;
  const recording = recordImportedKeys(options, run, loadable).catch((err) => { recordFailure = err; });
  const end = await watchImport(client, description, expected, options.log, { pollMs: options.pollMs ?? 10_000, sleep: options.sleep });
  await recording;
  if (recordFailure !== undefined) report.problems.push(`recording the loaded keys under ${run.uri}/load/keys/: ${errorMessage(recordFailure)}`);
  Object.assign(imported, {
    status: end.ImportStatus, processed_items: end.ProcessedItemCount, processed_bytes: end.ProcessedSizeBytes,
    imported_items: end.ImportedItemCount, error_count: end.ErrorCount,
    ...(end.FailureCode ? { failure_code: end.FailureCode } : {}),
    ...(end.FailureMessage ? { failure_message: end.FailureMessage } : {}),
    cloudwatch_log_group: logGroupName(end.CloudWatchLogGroupArn),
  });
  await recordAttemptEnd(run, tableName, attempts, end);
  if (attempts.length > 1) for (const a of attempts) options.log(describeAttempt(a));
  const outcome = judgeImport(end, expected);
  if (!outcome.ok) {
    let errors: string[] = [];
    try {
      errors = await firstImportErrors(options.logs ?? cloudWatchLogsClient(), end);
    } catch (err) {
      errors = [`(could not read CloudWatch Logs: ${(err as Error).message})`];
    }
    imported.first_errors = errors;
    for (const line of errors) options.log(`import error: ${line}`);
    report.problems.push(...outcome.problems, `CloudWatch log group ${imported.cloudwatch_log_group}${end.ImportArn ? ` (import ${end.ImportArn})` : ''}`);
    if (end.ImportStatus === 'FAILED' || end.ImportStatus === 'CANCELLED') {
      const left = await describeTable(client, tableName);
      report.problems.push(`to retry: fix the cause${left ? `, delete table ${tableName} (aws dynamodb delete-table --table-name ${tableName})` : ''}, then rerun make load: it starts import attempt ${imported.attempt + 1}`);
    }
    return;
  }
  options.log(`import COMPLETED: ${end.ImportedItemCount} items, ${formatBytes(end.ProcessedSizeBytes ?? 0)}`);
  const table = await waitActive(client, options.tableName, { sleep: options.sleep, pollMs: options.pollMs ?? 10_000 });
  report.settings = await applyTableSettings(client, table, options.settings, options.log);
  await waitActive(client, options.tableName, { sleep: options.sleep, pollMs: options.pollMs ?? 10_000 });
  for (const t of report.tables) t.written = t.items;
  report.totals.written = report.totals.items;
  await recordLoaded(run, options.run, options.tableName, loadable.tables, 'import', true);
}

async function batchMode(options: LoadOptions, run: Storage, loadable: LoadableRun, client: Pick<DynamoDBClient, 'send'>, report: LoadReport): Promise<void> {
  const { created, table } = await ensureTable(client, options.tableName, options.settings, options.log);
  report.created_table = created;
  report.table_arn = table.TableArn;
  // An existing table keeps its settings: this is a rerun into it, not its creation.
  if (created) report.settings = await applyTableSettings(client, table, options.settings, options.log);
  const progress = new Progress(loadable.tables.length, 0, { what: 'items', total: sum(loadable.tables, (t) => t.items_out), unitName: 'tables' });
  let fresh = created;
  for (const entry of loadable.tables) {
    const tableReport = report.tables.find((t) => t.name === entry.name)!;
    // Read before this load rewrites the record: what earlier loads of the table put there.
    const loadedBefore = await readLoadedKeys(run, options.tableName, entry.name);
    const keys = new Set<string>();
    progress.start(entry.name);
    let bytes = 0;
    const requests = async function* (): AsyncGenerator<SizedWrite> {
      for (const part of entry.parts) {
        const partKeys = new PartKeys();
        for await (const fileItem of readPartItems(run, entry.name, part)) {
          partKeys.add(itemKey(fileItem.item));
          yield { request: { PutRequest: { Item: toItemValue(fileItem.item) } }, bytes: fileItem.bytes };
        }
        partKeys.addTo(keys);
        // Recorded once the part's puts were handed out: a failed load leaves a record of keys that may be in the table.
        await partKeys.write(run, options.tableName, entry.name, part.key);
        bytes += part.bytes;
      }
    };
    const stats = emptyBatchWriteStats();
    try {
      await batchWrite(requests(), {
        client, tableName: options.tableName, concurrency: options.concurrency, sleep: options.sleep, stats,
        onProgress: (s) => progress.update(entry.name, s.written, bytes),
      });
    } finally {
      // A failed table's counts too (what was sent, what DynamoDB confirmed), and the totals so far.
      const { written, ...batch } = stats;
      tableReport.written = written;
      tableReport.batch = batch;
      report.totals.written = sum(report.tables, (t) => t.written ?? 0);
    }
    progress.finish(entry.name, stats.written);
    const { written, ...batch } = stats;
    if (written !== entry.items_out) report.problems.push(`${entry.name}: ${written} items written, the transform manifest has ${entry.items_out}`);
    else {
      await recordLoaded(run, options.run, options.tableName, [entry], 'batch', fresh);
      fresh = false;
    }
    options.log(`${entry.name}: ${written} items written (${batch.calls} BatchWriteItem calls, ${batch.unprocessed_resent} unprocessed resent, ${batch.error_retries} retries after throttling, 5xx or resets)`);
    // Keys loaded earlier that the run no longer has stay recorded until a prune deletes them.
    const earlier = new Set([...loadedBefore ?? []].filter((k) => !keys.has(k)));
    if (options.prune) {
      tableReport.prune = await prunePlan(options, client, entry, { run: keys, loadedBefore: loadedBefore ?? new Set() }, !!loadedBefore);
      earlier.clear();
    }
    await finishLoadedKeys(run, options.tableName, entry.name, entry.parts.map((p) => p.key), earlier);
  }
  report.totals.written = sum(report.tables, (t) => t.written ?? 0);
}

async function prunePlan(
  options: LoadOptions, client: Pick<DynamoDBClient, 'send'>, entry: TransformTable,
  keys: { run: Set<string>; loadedBefore: Set<string> }, recorded: boolean,
): Promise<LoadTableReport['prune']> {
  if (!entry.entity_type) throw new UserError(`load: ${entry.name} has no entity_type in the transform manifest: cannot tell its items apart to prune; rerun the transform`);
  if (!recorded) {
    options.log(`prune ${entry.name}: no earlier load of run ${options.run} recorded putting ${entry.name} items into ${options.tableName}, so none can be stale; nothing deleted (prune works on a table this run loaded before)`);
  }
  return pruneEntity(client, options.tableName, entry.entity_type, keys, { concurrency: options.concurrency, log: options.log });
}
