// `verify`: parses arguments and runs verify.ts.
import { MODEL_OPTION, modelDir } from '../model/registry.ts';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { checkConcurrency, checkRunId, commonOptions, numberText, parseCli, runStorage } from '../lib/config.ts';
import { appendRunReport } from '../lib/run-report.ts';
import { UserError } from '../lib/errors.ts';
import { exitOnInterrupt, logger, runCli } from '../lib/log.ts';
import { emitResult, emitSummary, jsonOption, makeCommand } from '../lib/output.ts';
import type { Storage } from '../lib/storage.ts';
import { readTransformManifest } from '../lib/transform-manifest.ts';
import type { Check } from '../lib/verify-report.ts';
import { parseShard } from '../lib/shard.ts';
import type { Consistency } from '../lib/verify-report.ts';
import { finalizeVerify, runVerify, runVerifyShard, type VerifyOptions } from './verify.ts';

const usage = `verify: prove the DynamoDB table holds exactly what the run took from PostgreSQL

Usage:    verify [options]              the whole table against the whole run
Shard:    verify --shard i/n [options]  shard i's Scan segments and item files, then its fragment
Finalize: verify finalize [options]     check every shard reported once; merge them into the report

(a) item counts per entity_type equal the transform manifest (one parallel Scan of whole items);
(b) every item of <store>/<run>/items/ equals the table's item, by a canonical hash of every attribute;
(c) the table holds no item the run did not write;
(d) the app's access patterns answer as SQL does on the source ($DATABASE_URL or PG*; sampled).
Both sides are sorted on local disk ($TMPDIR) and merged: memory does not grow with the table.
Before reading, verify prints the items, GB, read units and on-demand cost of its Scan.
Failures name items by file position and a hash of their key, never by value. The report
goes to <store>/<run>/load/verify.json and stdout; the exit status is 1 when any check fails.
A sharded verify (AWS Batch array, Step Functions map) runs every shard with the same CONCURRENCY;
each stores its sorted sides under <run>/verify/shards/, and finalize gives the verdict.`;

await runCli('verify', async () => {
  const args = await parseCli(jsonOption(commonOptions(yargs(hideBin(process.argv)).usage(usage)))
    .option('ddb-table', { type: 'string', default: process.env.DDB_TABLE || undefined, defaultDescription: '$DDB_TABLE or pg2ddb-<run>', describe: 'The DynamoDB table' })
    .option('sample', { type: 'string', default: '50', coerce: numberText('sample'), describe: 'Keys sampled per access pattern' })
    .option('access-patterns', { type: 'boolean', default: true, describe: 'Check access patterns against the source database (--no-access-patterns to skip)' })
    .option('model', MODEL_OPTION)
    .option('consistency', {
      choices: ['strong', 'eventual'] as const,
      default: 'strong' as Consistency,
      describe: 'Read consistency of the Scan. eventual costs half the read units and is safe once the import (or batch load) has completed and nothing else writes the table; strong otherwise',
    })
    .option('shard', { type: 'string', default: process.env.SHARD || undefined, defaultDescription: '$SHARD or none', describe: 'Do only shard i of n (i/n): its Scan segments and item files' })
    .option('quiet', { type: 'boolean', default: false, describe: 'Only the JSON report' })
    .command('finalize', 'Merge a sharded verify: every shard reported once, then the verdict and report'), 'verify');
  if (!Number.isInteger(args.sample) || args.sample < 1) throw new UserError(`invalid --sample ${args.sample}: a whole number of keys, at least 1`, 2);
  const command = args._[0];
  if (command !== undefined && command !== 'finalize') throw new UserError(`unknown command ${JSON.stringify(command)} (see verify --help)`);
  const tableName = args['ddb-table'] ?? `pg2ddb-${checkRunId(args.run)}`;
  const extra = [
    ...(args['ddb-table'] && args['ddb-table'] !== process.env.DDB_TABLE ? [`DDB_TABLE=${tableName}`] : []),
    ...(args.shard ? [`SHARD=${args.shard}`] : []),
  ];
  const rerun = command === 'finalize' ? makeCommand('finalize', args, ['STAGE=verify', ...extra]) : makeCommand('verify', args, extra);
  // verify only reads until it ends (a shard writes its fragment last): an interrupt leaves no partial verdict behind.
  exitOnInterrupt('verify', () => `nothing was changed and nothing recorded (verify writes its report when it ends); rerun ${rerun} to check again`);
  const options: VerifyOptions = {
    store: args.store,
    run: args.run,
    tableName,
    tables: args.table,
    concurrency: checkConcurrency(args.concurrency),
    databaseUrl: args['access-patterns'] ? process.env.DATABASE_URL || undefined : false,
    sampleSize: args.sample,
    consistency: args.consistency,
    entities: modelDir(args.model),
    log: args.quiet ? () => {} : logger('verify'),
  };
  if (args.shard) {
    if (command) throw new UserError(`--shard does not go with ${command}`);
    // Shards run concurrently: each leaves the run report alone, and finalize reports the stage.
    const started = Date.now();
    const summary = await runVerifyShard({ ...options, databaseUrl: false, shard: parseShard(args.shard) });
    const took = (Date.now() - started) / 1000;
    emitResult('verify', args, { run: args.run, ...summary, seconds: took }, [
      `shard ${summary.shard}: ${summary.items_scanned} items scanned, ${summary.run_items} of the run's read in ${took.toFixed(1)} s → next: the other shards, then ${makeCommand('finalize', args, ['STAGE=verify'])}`,
    ]);
    return;
  }
  const report = command === 'finalize' ? await finalizeVerify(options) : await runVerify(options);
  emitResult('verify', args, report);
  const failed = report.checks.filter((c) => !c.ok);
  const selected = args.table;
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
