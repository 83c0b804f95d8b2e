// `verify`: parses arguments and runs verify.ts.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { checkConcurrency, checkRunId, commonOptions, parseCli, runStorage } from '../lib/config.ts';
import { appendRunReport } from '../lib/run-report.ts';
import { UserError } from '../lib/errors.ts';
import { logger, runCli } from '../lib/log.ts';
import { runVerify } from './verify.ts';

const usage = `verify: prove the DynamoDB table holds exactly what the run took from PostgreSQL

Usage: verify [options]

(a) item counts per entity_type equal the transform manifest (parallel Scan);
(b) every item of <store>/<run>/items/ equals the table's item, every attribute (BatchGetItem);
(c) the table holds no item the run did not write;
(d) the app's access patterns answer as SQL does on the source ($DATABASE_URL or PG*).
Failures name items by file position and a hash of their key, never by value. The report
goes to <store>/<run>/load/verify.json and stdout; the exit status is 1 when any check fails.`;

await runCli('verify', async () => {
  const args = await parseCli(commonOptions(yargs(hideBin(process.argv)).usage(usage))
    .option('ddb-table', { type: 'string', default: process.env.DDB_TABLE || undefined, defaultDescription: '$DDB_TABLE or pg2ddb-<run>', describe: 'The DynamoDB table' })
    .option('sample', { type: 'number', default: 50, describe: 'Keys sampled per access pattern' })
    .option('access-patterns', { type: 'boolean', default: true, describe: 'Check access patterns against the source database (--no-access-patterns to skip)' })
    .option('quiet', { type: 'boolean', default: false, describe: 'Only the JSON report' }), 'verify');
  if (!Number.isInteger(args.sample) || args.sample < 1) throw new UserError(`invalid --sample ${args.sample}`);
  const report = await runVerify({
    store: args.store,
    run: args.run,
    tableName: args['ddb-table'] ?? `pg2ddb-${checkRunId(args.run)}`,
    tables: args.table?.filter((t) => t !== ''),
    concurrency: checkConcurrency(args.concurrency),
    databaseUrl: args['access-patterns'] ? process.env.DATABASE_URL || undefined : false,
    sampleSize: args.sample,
    log: args.quiet ? () => {} : logger('verify'),
  });
  process.stdout.write(`${JSON.stringify(report)}\n`);
  const failed = report.checks.filter((c) => !c.ok);
  await appendRunReport(runStorage(args.store, args.run), args.run, {
    stage: 'verify',
    seconds: report.seconds,
    ok: report.ok,
    totals: { checks: report.checks.length, passed: report.checks.length - failed.length, failed: failed.length },
    tables: {},
    warnings: failed.map((c) => `FAILED: ${c.name}`),
  });
  if (!args.quiet) process.stderr.write(`verify: ${report.checks.length - failed.length}/${report.checks.length} checks passed${failed.length ? `; FAILED: ${failed.map((c) => c.name).join('; ')}` : ''}\n`);
  return failed.length === 0 ? 0 : 1;
});
