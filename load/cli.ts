// `load`: parses arguments and runs the stage; the work lives in load.ts.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { checkConcurrency, checkRunId, commonOptions, numberText, parseCli, runStorage } from '../lib/config.ts';
import { checkStoreWritable, storeTimeoutOption } from '../lib/store-check.ts';
import { appendRunReport } from '../lib/run-report.ts';
import { UserError } from '../lib/errors.ts';
import { Progress, exitOnInterrupt, logger, runCli } from '../lib/log.ts';
import { emitDryRun, emitResult, jsonOption, makeCommand, seconds as secondsText } from '../lib/output.ts';
import { describeAttempt } from './import-attempts.ts';
import { MAX_IMPORTS_IN_PROGRESS } from './import-preflight.ts';
import { describeLoadDryRun, dryRunLoad } from './dry-run.ts';
import { runLoad, type LoadOptions } from './load.ts';
import { chooseLoadMode } from './load-mode.ts';
import { checkTableName, cloudFormationTemplate, parseTags } from '../model/table-spec.ts';
import { writeCheckKey } from '../lib/run-layout.ts';

const usage = `load: put a transform run's items into one DynamoDB table

Usage: load [options]

import mode (default on AWS): ImportTable creates a NEW table from <store>/<run>/items/ (S3 only),
  watched until it ends; its counts must equal the transform manifest's. A rerun resumes the same
  import (its ClientToken comes from the manifest hash). An existing table not created by this
  run's import is refused. After a FAILED or CANCELLED import whose table is gone, a rerun starts
  the next attempt (load/import.json lists them). Refused before ImportTable: more than 50,000
  objects, more than the region's source size (15 TB in us-east-1, us-west-2, eu-west-1; 1 TB
  elsewhere), a bucket in another region, the account's imports in progress at their quota.
batch mode (default when AWS_ENDPOINT_URL_DYNAMODB is a loopback address: DynamoDB Local):
  BatchWriteItem upserts the items, creating the table when absent. With TABLE=users only that table's items are
  written; --prune then deletes that entity's items the run no longer has.
--dry-run reads the run and the table and prints the items to create, upsert and prune and an import's
  cost; it writes nothing (no table, no item, no report).
Then TTL on ttl, point-in-time recovery, deletion protection and tags are applied to a table the
load created. <store>/<run>/load/report.json records it all; a JSON summary goes to stdout.`;

await runCli('load', async () => {
  const args = await parseCli(storeTimeoutOption(jsonOption(commonOptions(yargs(hideBin(process.argv)).usage(usage))))
    .option('ddb-table', {
      type: 'string',
      default: process.env.DDB_TABLE || undefined,
      defaultDescription: '$DDB_TABLE or pg2ddb-<run>',
      describe: 'The DynamoDB table',
    })
    .option('mode', {
      choices: ['import', 'batch'] as const,
      defaultDescription: '$MODE, else batch when AWS_ENDPOINT_URL_DYNAMODB is a loopback address, else import',
      describe: 'ImportTable into a new table, or BatchWriteItem (upsert)',
    })
    .option('bucket-owner', { type: 'string', describe: "Import mode: the 12-digit account owning the S3 bucket (cross-account)" })
    .option('ttl', { type: 'boolean', default: true, describe: 'Enable TTL on the ttl attribute (--no-ttl to leave it off)' })
    .option('pitr', { type: 'boolean', default: true, describe: 'Enable point-in-time recovery (--no-pitr)' })
    .option('deletion-protection', { type: 'boolean', default: true, describe: 'Enable deletion protection (--no-deletion-protection)' })
    .option('tag', { type: 'string', array: true, default: [] as string[], describe: 'Tag key=value for the table (repeatable)' })
    .option('kms-key-id', { type: 'string', describe: 'Customer managed KMS key for SSE (default: the AWS managed key)' })
    .option('prune', { type: 'boolean', default: false, describe: "Batch mode with TABLE=: delete that entity's items that are not in the run" })
    .option('dry-run', { type: 'boolean', default: false, describe: 'Print what the load would do (items to create, upsert and prune; the cost of an import) and write nothing' })
    .option('imports-in-progress-limit', {
      type: 'string',
      default: String(MAX_IMPORTS_IN_PROGRESS),
      coerce: numberText('imports-in-progress-limit'),
      describe: "Import mode: refuse to start while this many imports are IN_PROGRESS (the account's quota; AWS: 50, raised by AWS Support)",
    })
    .option('poll-seconds', { type: 'string', default: '10', coerce: numberText('poll-seconds'), describe: 'Import mode: seconds between DescribeImport calls' })
    .option('print-table-spec', { type: 'boolean', default: false, describe: 'Print the table as a CloudFormation resource (JSON) and exit' })
    .option('quiet', { type: 'boolean', default: false, describe: 'No progress lines on stderr' })
    .example('MODE=batch TABLE=users load --prune --dry-run', 'what reloading the users would create, upsert and prune; nothing written')
    .example('load --run 2026-11-28 --ddb-table serenya', 'import a run into a new table on AWS')
    .example('load --print-table-spec --ddb-table serenya > table.json', 'the same table for the app\'s infrastructure'), 'load');

  const tableName = checkTableName(args['ddb-table'] ?? `pg2ddb-${checkRunId(args.run)}`);
  const settings = {
    ttl: args.ttl,
    pointInTimeRecovery: args.pitr,
    deletionProtection: args['deletion-protection'],
    tags: parseTags(args.tag),
    ...(args['kms-key-id'] ? { kmsKeyId: args['kms-key-id'] } : {}),
  };
  if (args['print-table-spec']) {
    process.stdout.write(`${JSON.stringify(cloudFormationTemplate(tableName, settings), null, 2)}\n`);
    return;
  }
  const { mode, why } = chooseLoadMode(args.mode, process.env);
  process.stderr.write(`load: mode ${mode} (${why})\n`);
  const inProgressLimit = args['imports-in-progress-limit'];
  if (!(Number.isInteger(inProgressLimit) && inProgressLimit >= 1)) throw new UserError(`invalid --imports-in-progress-limit ${inProgressLimit}: a whole number of imports, at least 1`, 2);
  const pollSeconds = args['poll-seconds'];
  if (!(pollSeconds > 0)) throw new UserError(`invalid --poll-seconds ${pollSeconds}: a number of seconds above 0`, 2);
  const loadOptions: LoadOptions = {
    store: args.store,
    run: args.run,
    tables: args.table,
    tableName,
    mode,
    concurrency: checkConcurrency(args.concurrency),
    settings,
    prune: args.prune,
    ...(args['bucket-owner'] ? { bucketOwner: args['bucket-owner'] } : {}),
    pollMs: pollSeconds * 1000,
    importsInProgressLimit: inProgressLimit,
    log: args.quiet ? () => {} : logger('load'),
  };
  if (args['dry-run']) {
    const dryRun = await dryRunLoad(loadOptions);
    emitDryRun('load', args, dryRun, describeLoadDryRun(dryRun));
    return;
  }
  // Before any write to DynamoDB: the load records its keys and report in the store.
  await checkStoreWritable(runStorage(args.store, args.run), writeCheckKey('load'), args['store-timeout']);
  const rerun = makeCommand('load', args, args['ddb-table'] && args['ddb-table'] !== process.env.DDB_TABLE ? [`DDB_TABLE=${tableName}`] : []);
  exitOnInterrupt('load', () => {
    if (mode === 'import') return `an import, if one was started, keeps running in DynamoDB; rerun ${rerun} to resume watching it (or to start it)`;
    const p = Progress.current();
    return `${p ? `${p.count} of ${p.counts.total} items written into ${tableName} and kept` : `nothing written into ${tableName} yet`} (a rerun upserts them again); rerun ${rerun} to finish`;
  });
  const report = await runLoad(loadOptions);
  const { run_id, table_name, created_table, seconds, totals, ok, tables } = report;
  await appendRunReport(runStorage(args.store, args.run), args.run, {
    stage: 'load',
    seconds,
    ok,
    ...(args.table.length > 0 ? { tables_selected: args.table } : {}),
    totals: { items: totals.items, written: totals.written ?? 0, gzip_bytes: totals.bytes },
    tables: Object.fromEntries(tables.map((t) => [t.name, { items: t.items, written: t.written ?? 0, ...(t.prune ? { pruned: t.prune.deleted } : {}) }])),
    warnings: [`${mode} into ${table_name}${created_table ? ' (created)' : ''}`, ...(report.import?.attempts ?? []).map(describeAttempt), ...report.problems],
  });
  emitResult('load', args, {
    run: run_id, mode, table: table_name, created_table, ok, seconds, totals,
    ...(report.import ? { import: { import_arn: report.import.import_arn, attempt: report.import.attempt, attempts: report.import.attempts } } : {}),
    tables: tables.map((t) => ({ name: t.name, items: t.items, written: t.written, ...(t.prune ? { prune: { stale: t.prune.stale, deleted: t.prune.deleted, dry_run: t.prune.dry_run } } : {}) })),
  }, [
    `${totals.written ?? 0} items of ${tables.length} table(s) into ${table_name}${created_table ? ' (created)' : ''} by ${mode} in ${secondsText(seconds)}${tables.some((t) => t.prune) ? `, ${tables.reduce((n, t) => n + (t.prune?.deleted ?? 0), 0)} pruned` : ''} → next: ${makeCommand('verify', args, args['ddb-table'] && args['ddb-table'] !== process.env.DDB_TABLE ? [`DDB_TABLE=${tableName}`] : [])}`,
  ]);
});
