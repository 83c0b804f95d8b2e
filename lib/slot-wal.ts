// The WAL a run's replication slot keeps on the source (FOLLOW=1 runs): while
// the slot lives, PostgreSQL keeps every WAL segment from its restart_lsn, so
// a slot nobody catches up fills the source's disk. `make status` and every
// catchup print it, and warn past a threshold.
import { formatBytes } from './log.ts';
import { connect } from './postgres.ts';

/** Above this (CATCHUP_WARN_RETAINED_MB, default 1024 MB) the WAL a slot retains is warned about. */
export function retainedWarnBytes(env: NodeJS.ProcessEnv = process.env): number {
  return Number(env.CATCHUP_WARN_RETAINED_MB || 1024) * 1024 * 1024;
}

export interface SlotWal {
  /** WAL kept on the source's disk for the slot (from its restart_lsn). */
  retained_bytes: number;
  /** WAL written since the slot's confirmed position. */
  lag_bytes: number;
}

/** The slot's WAL, or undefined when no slot of that name exists. */
export async function slotWal(databaseUrl: string | undefined, slot: string): Promise<SlotWal | undefined> {
  const client = await connect(databaseUrl, 'pg2ddb-status');
  try {
    const { rows: [s] } = await client.query<{ lag: string; retained: string }>(
      `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS lag,
              pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text AS retained
         FROM pg_replication_slots WHERE slot_name = $1`,
      [slot],
    );
    return s ? { retained_bytes: Number(s.retained), lag_bytes: Number(s.lag) } : undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

/** The warning line for a slot retaining more than the threshold, else undefined. */
export function retainedWarning(slot: string, retainedBytes: number, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const limit = retainedWarnBytes(env);
  if (retainedBytes <= limit) return undefined;
  return `WARNING: slot ${slot} retains ${formatBytes(retainedBytes)} of WAL on the source (over ${formatBytes(limit)}, CATCHUP_WARN_RETAINED_MB): catch up (make catchup) or drop it (make catchup ARGS=--drop-slot) before the source's disk fills`;
}
