// `status`: parses arguments and prints where the run stands; the work lives in run-status.ts.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commonOptions, parseCli, runStorage } from '../lib/config.ts';
import { errorMessage } from '../lib/errors.ts';
import { runCli } from '../lib/log.ts';
import { readExtractManifest } from '../lib/manifest.ts';
import { retainedWarning, slotWal } from '../lib/slot-wal.ts';
import { renderStatus, runStatus } from './run-status.ts';

const usage = `status: where a run stands, per table and stage

Usage: status [options]

Reads the run's manifests and load records (no DynamoDB call; for a FOLLOW=1 run, one query
of the source's pg_replication_slots: the WAL the run's slot retains, warned about past
CATCHUP_WARN_RETAINED_MB, 1024) and prints, per table, extract / transform / load / verify as done, stale, missing, failed
or skipped, with rows, items and rejects, the snapshot instant, and the next command to run.
Stale means the stage's input changed after it ran (a table extracted again, then not
transformed; a table transformed again, then not loaded). Exit status 0 when every stage
is done, 3 while work remains.`;

await runCli('status', async () => {
  const args = await parseCli(commonOptions(yargs(hideBin(process.argv)).usage(usage))
    .option('ddb-table', { type: 'string', default: process.env.DDB_TABLE || undefined, defaultDescription: '$DDB_TABLE or pg2ddb-<run>', describe: 'The DynamoDB table the run is loaded into' })
    .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document instead of the table' }), 'status');
  const run = runStorage(args.store, args.run);
  const status = await runStatus(run, args.run, args['ddb-table'] ?? `pg2ddb-${args.run}`);
  const follow = (await readExtractManifest(run, { checkFiles: false }).catch(() => undefined))?.follow;
  if (follow) {
    try {
      const wal = await slotWal(process.env.DATABASE_URL || undefined, follow.slot);
      const warning = wal && retainedWarning(follow.slot, wal.retained_bytes);
      status.follow = { slot: follow.slot, exists: wal !== undefined, ...wal, ...(warning ? { warning } : {}) };
    } catch (err) {
      status.follow = { slot: follow.slot, error: errorMessage(err) };
    }
  }
  process.stdout.write(args.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status));
  return status.next ? 3 : 0;
});
