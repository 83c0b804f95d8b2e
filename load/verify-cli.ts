// `verify`: parses arguments and runs verify.ts.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { checkConcurrency, checkRunId, commonOptions, numberText, parseCli, runStorage } from '../lib/config.ts';
import { appendRunReport } from '../lib/run-report.ts';
import { UserError } from '../lib/errors.ts';
import { exitOnInterrupt, logger, runCli } from '../lib/log.ts';
import { emitResult, emitSummary, jsonOption, makeCommand } from '../lib/output.ts';
import type { Storage } from '../lib/storage.ts';
import { readTransformManifest } from '../lib/transform-manifest.ts';
import type { Check } from './verify-items.ts';
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
  const args = await parseCli(jsonOption(commonOptions(yargs(hideBin(process.argv)).usage(usage)))
    .option('ddb-table', { type: 'string', default: process.env.DDB_TABLE || undefined, defaultDescription: '$DDB_TABLE or pg2ddb-<run>', describe: 'The DynamoDB table' })
    .option('sample', { type: 'string', default: '50', coerce: numberText('sample'), describe: 'Keys sampled per access pattern' })
    .option('access-patterns', { type: 'boolean', default: true, describe: 'Check access patterns against the source database (--no-access-patterns to skip)' })
    .option('quiet', { type: 'boolean', default: false, describe: 'Only the JSON report' }), 'verify');
  if (!Number.isInteger(args.sample) || args.sample < 1) throw new UserError(`invalid --sample ${args.sample}: a whole number of keys, at least 1`, 2);
  const tableName = args['ddb-table'] ?? `pg2ddb-${checkRunId(args.run)}`;
  const rerun = makeCommand('verify', args, args['ddb-table'] && args['ddb-table'] !== process.env.DDB_TABLE ? [`DDB_TABLE=${tableName}`] : []);
  // verify only reads until it ends: an interrupt leaves no partial verdict behind.
  exitOnInterrupt('verify', () => `nothing recorded (verify writes its report when it ends); rerun ${rerun} to check again`);
  const report = await runVerify({
    store: args.store,
    run: args.run,
    tableName,
    tables: args.table?.filter((t) => t !== ''),
    concurrency: checkConcurrency(args.concurrency),
    databaseUrl: args['access-patterns'] ? process.env.DATABASE_URL || undefined : false,
    sampleSize: args.sample,
    log: args.quiet ? () => {} : logger('verify'),
  });
  emitResult('verify', args, report);
  const failed = report.checks.filter((c) => !c.ok);
  const selected = args.table?.filter((t) => t !== '') ?? [];
  await appendRunReport(runStorage(args.store, args.run), args.run, {
    stage: 'verify',
    seconds: report.seconds,
    ok: report.ok,
    ...(selected.length > 0 ? { tables_selected: selected } : {}),
    totals: { checks: report.checks.length, passed: report.checks.length - failed.length, failed: failed.length },
    checks: report.checks.map((c) => ({ name: c.name, ok: c.ok })),
    tables: await countsByTable(runStorage(args.store, args.run), report.checks, selected),
    warnings: failed.map((c) => `FAILED: ${c.name}`),
  });
  const verdict = `${report.checks.length - failed.length}/${report.checks.length} checks passed${failed.length ? `; FAILED: ${failed.map((c) => c.name).join('; ')}` : ''}`;
  // On a terminal the summary says it, with the next step; elsewhere this line, as before.
  if (!args.quiet && !args.json && !process.stderr.isTTY) process.stderr.write(`verify: ${verdict}\n`);
  emitSummary('verify', args, [`${verdict} in ${(report.seconds).toFixed(1)} s → next: ${makeCommand('report', args)}`]);
  return failed.length === 0 ? 0 : 1;
});

/** Per table, whether check (a) found its entity_type's count right (1) or not (0): what report.html shows per table. */
async function countsByTable(run: Storage, checks: Check[], selected: string[]): Promise<Record<string, Record<string, number>>> {
  const counts = checks.find((c) => c.name === 'counts per entity_type');
  const manifest = await readTransformManifest(run);
  if (!counts || !manifest) return {};
  const wrong = new Set(counts.failures.map((f) => f.entity_type));
  return Object.fromEntries(manifest.tables
    .filter((t) => t.entity_type && (selected.length === 0 || selected.includes(t.name)))
    .map((t) => [t.name, { count_ok: wrong.has(t.entity_type) ? 0 : 1 }]));
}
