// `catchup`: parses arguments and runs catchup.ts (or drops the run's slot).
import { MODEL_OPTION, modelDir } from '../model/registry.ts';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { checkRunId, commonOptions, parseCli, runStorage } from '../lib/config.ts';
import { UserError } from '../lib/errors.ts';
import { exitOnInterrupt, formatBytes, logger, runCli } from '../lib/log.ts';
import { readExtractManifest } from '../lib/manifest.ts';
import { emitResult, jsonOption, makeCommand, seconds } from '../lib/output.ts';
import { checkTableName } from '../model/table-spec.ts';
import { runCatchup } from './catchup.ts';
import { dropSlot } from './slot.ts';
import { followNames } from '../lib/follow-names.ts';

const usage = `catchup: apply the changes made at the source since a FOLLOW=1 extract to the DynamoDB table

Usage: catchup [options]                 changes up to the WAL position current now, then exit
       catchup --until-lag 0 [options]   again and again until no change is pending
       catchup --drop-slot [options]     drop the run's replication slot and publication

Reads the run's slot (pg2ddb_<run>, created by make extract FOLLOW=1) in batches of whole
transactions, in commit order; maps each changed row through the transform's mappers; puts,
deletes, or deletes then puts (when the item key changed) in $DDB_TABLE; writes rejects to
<store>/<run>/catchup/rejects/; confirms the slot only once a batch's writes are durable, so a
catchup killed at any point is simply rerun. Prints lag (bytes and seconds) before and after,
and the WAL the slot keeps on the source (a warning past CATCHUP_WARN_RETAINED_MB, 1024).`;

await runCli('catchup', async () => {
  const args = await parseCli(jsonOption(commonOptions(yargs(hideBin(process.argv)).usage(usage)))
    .option('model', MODEL_OPTION)
    .option('ddb-table', { type: 'string', default: process.env.DDB_TABLE || undefined, defaultDescription: '$DDB_TABLE or pg2ddb-<run>', describe: 'The DynamoDB table the run was loaded into' })
    .option('until-lag', { type: 'number', describe: 'Repeat until the oldest unapplied change is at most this many seconds old (0: none pending)' })
    .option('drop-slot', { type: 'boolean', default: false, describe: 'Drop the run\'s replication slot and publication (after cutover, or to abandon the run)' })
    .option('batch', { type: 'number', default: 5000, describe: 'Messages read per batch (whole transactions)' })
    .option('quiet', { type: 'boolean', default: false, describe: 'No progress lines on stderr' }), 'catchup');
  const log = args.quiet ? () => {} : logger('catchup');
  const databaseUrl = process.env.DATABASE_URL || undefined;
  if (args['drop-slot']) {
    const extract = await readExtractManifest(runStorage(args.store, args.run), { checkFiles: false });
    if (extract && !extract.follow) throw new UserError(`run ${args.run} has no replication slot (it was not extracted with FOLLOW=1)`);
    // An extract FOLLOW=1 that died before its manifest recorded the slot still left it (and its WAL) on the source, named after the run.
    const names = extract?.follow ?? followNames(checkRunId(args.run));
    const dropped = await dropSlot(databaseUrl, names);
    emitResult('catchup', args, { run: args.run, slot: names.slot, dropped }, [
      dropped ? `dropped slot ${names.slot} and publication ${names.publication}: the source keeps no WAL for this run` : `slot ${names.slot} was already gone; publication ${names.publication} dropped`,
    ]);
    return;
  }
  const untilLag = args['until-lag'];
  if (untilLag !== undefined && !(untilLag >= 0)) throw new UserError(`invalid --until-lag ${untilLag}: use a number of seconds, 0 or more`, 2);
  if (!Number.isInteger(args.batch) || args.batch < 1) throw new UserError(`invalid --batch ${args.batch}: use a whole number`, 2);
  exitOnInterrupt('catchup', () => `the slot is confirmed up to the last batch whose writes were durable; rerun ${makeCommand('catchup', args)}`);
  const summary = await runCatchup({
    databaseUrl,
    store: args.store,
    run: args.run,
    tableName: checkTableName(args['ddb-table'] ?? `pg2ddb-${checkRunId(args.run)}`),
    concurrency: args.concurrency,
    batchMessages: args.batch,
    entities: modelDir(args.model),
    ...(untilLag !== undefined ? { untilLagSeconds: untilLag } : {}),
    log,
  });
  emitResult('catchup', args, summary, [
    `${summary.transactions} transaction(s): ${summary.writes.puts} put(s), ${summary.writes.deletes} delete(s), ${summary.rejected} reject(s) in ${seconds(summary.seconds)}; ` +
    `lag ${formatBytes(summary.before.lag_bytes)} → ${formatBytes(summary.after.lag_bytes)}, WAL retained ${formatBytes(summary.after.retained_bytes)} → next: ${makeCommand('cutover', args)} when ready to switch`,
  ]);
});
