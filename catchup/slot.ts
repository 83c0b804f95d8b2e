// The run's replication slot through PostgreSQL's SQL interface: changes are
// peeked (read without consuming) in bounded batches of whole transactions,
// and the slot is advanced only once their writes are durable in DynamoDB. A
// catchup killed anywhere leaves the slot where the last durable batch ended,
// so a rerun reads the unconfirmed changes again: applying them twice gives
// the same items, since each item's last write wins.
import { createHash } from 'node:crypto';
import { UserError } from '../lib/errors.ts';
import type { FollowEntry } from '../lib/manifest.ts';
import { VALUE_TEXT_SETTINGS, connect, pinSettings, quoteIdent, type PgClient } from '../lib/postgres.ts';
import { decodeMessage, type Message } from './decode.ts';
import { qualifiedName } from '../lib/run-layout.ts';
import { publicationState } from '../lib/publication-state.ts';

export interface SlotState {
  /** pg_current_wal_lsn() when read. */
  current_lsn: string;
  confirmed_lsn: string;
  /** WAL written since the last confirmed change (what catchup has still to read). */
  lag_bytes: number;
  /** WAL the slot keeps on the source's disk (from its restart_lsn). */
  retained_bytes: number;
  /** Age of the oldest change not yet applied (0 when none). */
  lag_seconds: number;
}

export class Slot {
  private constructor(readonly client: PgClient, readonly follow: FollowEntry) {}

  /**
   * Opens the slot for one catchup: a session-level advisory lock named after
   * the slot keeps two catchups of a run from applying the same changes at once.
   */
  static async open(databaseUrl: string | undefined, follow: FollowEntry): Promise<Slot> {
    const client = await connect(databaseUrl, 'pg2ddb-catchup');
    try {
      // Value text follows the decoding backend's settings: pinned as extract pins them, a change's text is the text COPY printed.
      // row_security off, as extract pins it: the source reads of joined values and of the rows joining a moved value
      // (catchup/map-changes.ts) fail naming a table whose row-level security hides rows from this role, rather than
      // see only some rows and move only their items (the others deleted under the old key, never put under the new).
      await pinSettings(client, { ...VALUE_TEXT_SETTINGS, row_security: 'off' });
      const { rows: [slot] } = await client.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [follow.slot]);
      if (!slot) throw new UserError(`replication slot ${follow.slot} does not exist (dropped, or never created): the run cannot be caught up; extract FOLLOW=1 into a new RUN`);
      const { rows: [lock] } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [lockKey(follow.slot)]);
      if (!lock!.ok) throw new UserError(`another catchup of slot ${follow.slot} is running: let it finish`);
      // A table taken out of the publication (ALTER PUBLICATION … DROP TABLE / SET TABLE) has its changes no longer sent: its items would silently stay as they are.
      const { rows: published } = await client.query<{ schema: string; table: string }>(
        'SELECT schemaname::text AS schema, tablename::text AS table FROM pg_publication_tables WHERE pubname = $1', [follow.publication],
      );
      const names = new Set(published.map((p) => qualifiedName(p.schema, p.table)));
      const missing = follow.tables.filter((t) => !names.has(t));
      if (missing.length > 0) {
        throw new UserError(`publication ${follow.publication} no longer holds table(s) ${missing.join(', ')}, whose changes are then not sent: ` +
          `run ALTER PUBLICATION ${quoteIdent(follow.publication)} ADD TABLE … for each, then extract FOLLOW=1 into a new RUN (the changes made meanwhile are lost to the slot)`);
      }
      // A publication that no longer sends every kind of change (ALTER PUBLICATION … SET (publish = …)) or whose tables
      // gained a row filter (… SET TABLE t WHERE …, PostgreSQL 15) leaves out changes as silently as a table taken out.
      const { rows: [pub] } = await client.query<{ kinds: string[] }>(
        `SELECT ARRAY_REMOVE(ARRAY[CASE WHEN NOT pubinsert THEN 'insert' END, CASE WHEN NOT pubupdate THEN 'update' END,
           CASE WHEN NOT pubdelete THEN 'delete' END, CASE WHEN NOT pubtruncate THEN 'truncate' END], NULL) AS kinds
           FROM pg_publication WHERE pubname = $1`, [follow.publication],
      );
      if (pub && pub.kinds.length > 0) {
        throw new UserError(`publication ${follow.publication} no longer publishes ${pub.kinds.join(', ')}: those changes are not sent; ` +
          `run ALTER PUBLICATION ${quoteIdent(follow.publication)} SET (publish = 'insert, update, delete, truncate'), then extract FOLLOW=1 into a new RUN (the changes made meanwhile are lost to the slot)`);
      }
      const { rows: [version] } = await client.query<{ n: number }>('SELECT current_setting(\'server_version_num\')::int AS n');
      if (version!.n >= 150000) {
        const { rows: filtered } = await client.query<{ schema: string; table: string }>(
          'SELECT schemaname::text AS schema, tablename::text AS table FROM pg_publication_tables WHERE pubname = $1 AND rowfilter IS NOT NULL', [follow.publication],
        );
        const names = filtered.map((p) => qualifiedName(p.schema, p.table)).filter((n) => follow.tables.includes(n));
        if (names.length > 0) {
          throw new UserError(`publication ${follow.publication} sends only the rows a filter (WHERE) passes of table(s) ${names.join(', ')}: the other rows' changes are not sent; ` +
            `run ALTER PUBLICATION ${quoteIdent(follow.publication)} SET TABLE … without WHERE, then extract FOLLOW=1 into a new RUN (the changes made meanwhile are lost to the slot)`);
        }
      }
      const opened = new Slot(client, follow);
      // After the checks above, which name what is wrong when it still is.
      await opened.checkPublication();
      return opened;
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
  }

  close(): Promise<void> {
    return this.client.end();
  }

  /** Where the WAL is flushed to, once every commit made before the call is: the target catchup drains to. */
  currentLsn(): Promise<string> {
    return flushedLsn(this.client);
  }

  async confirmedLsn(): Promise<string> {
    return (await this.client.query<{ lsn: string }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [this.follow.slot])).rows[0]!.lsn;
  }

  async state(): Promise<SlotState> {
    const { rows: [s] } = await this.client.query<{ current_lsn: string; confirmed_lsn: string; lag: string; retained: string }>(
      `SELECT pg_current_wal_lsn()::text AS current_lsn, confirmed_flush_lsn::text AS confirmed_lsn,
              pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS lag,
              pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text AS retained
         FROM pg_replication_slots WHERE slot_name = $1`,
      [this.follow.slot],
    );
    // The first pending transaction's commit time dates the lag.
    const first = (await this.peek(null, 1)).find((m) => m.kind === 'begin');
    return {
      current_lsn: s!.current_lsn,
      confirmed_lsn: s!.confirmed_lsn,
      lag_bytes: Number(s!.lag),
      retained_bytes: Number(s!.retained),
      lag_seconds: first?.kind === 'begin' ? Math.max(0, (Date.now() - first.commitTime.getTime()) / 1000) : 0,
    };
  }

  /**
   * Whole transactions from the slot's confirmed position, in commit order:
   * those committed before `uptoLsn` (null: any), stopping after the
   * transaction that reaches `maxChanges` messages.
   */
  async peek(uptoLsn: string | null, maxChanges: number): Promise<Message[]> {
    const { rows } = await this.client.query<{ data: Buffer }>(
      `SELECT data FROM pg_logical_slot_peek_binary_changes($1, $2::pg_lsn, $3, 'proto_version', '1', 'publication_names', $4)`,
      // Slot and publication names are pg2ddb_<run> in [a-z0-9_] (lib/follow-names.ts): no quoting needed in the option.
      [this.follow.slot, uptoLsn, maxChanges, this.follow.publication],
    );
    return rows.map((r) => decodeMessage(r.data));
  }

  /** Row changes not yet confirmed (up to `limit` read): empty transactions, which servers before 15 send, do not count. */
  async pendingChanges(limit = 1000): Promise<number> {
    return (await this.peek(null, limit)).filter((m) => m.kind === 'insert' || m.kind === 'update' || m.kind === 'delete' || m.kind === 'truncate').length;
  }

  /**
   * Refuses a publication altered since extract made it, even if put back
   * since: the changes made while it differed were never sent to the slot.
   * (A run extracted before the state was recorded is not checked.)
   */
  async checkPublication(): Promise<void> {
    const recorded = this.follow.publication_state;
    if (recorded === undefined || (await publicationState(this.client, this.follow.publication)) === recorded) return;
    throw new UserError(`publication ${this.follow.publication} was altered after the extract made it (ALTER PUBLICATION, or a table dropped from it ` +
      `and added back): changes made while it differed may never have been sent to the slot, so the run cannot be caught up; extract FOLLOW=1 into a new RUN`);
  }

  /**
   * Confirms every change up to `lsn` (a commit's end): the slot will not send
   * them again and frees their WAL. Only while the publication is unaltered:
   * an ALTER undone within a batch leaves no other trace.
   */
  async confirm(lsn: string): Promise<void> {
    await this.checkPublication();
    await this.client.query('SELECT pg_replication_slot_advance($1, $2::pg_lsn)', [this.follow.slot, lsn]);
  }
}

/** Drops the run's slot and publication (`catchup --drop-slot`); true when there was a slot. */
export async function dropSlot(databaseUrl: string | undefined, follow: Pick<FollowEntry, 'slot' | 'publication'>): Promise<boolean> {
  const client = await connect(databaseUrl, 'pg2ddb-catchup');
  try {
    const { rows: [slot] } = await client.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [follow.slot]);
    if (slot?.active) throw new UserError(`replication slot ${follow.slot} is in use by another session: stop it, then rerun --drop-slot`);
    // A catchup reads the slot through SQL calls, between which the slot is not active: its lock says it runs.
    const { rows: [lock] } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [lockKey(follow.slot)]);
    if (!lock!.ok) throw new UserError(`a catchup or cutover of slot ${follow.slot} is running: let it finish (or stop it), then rerun --drop-slot`);
    if (slot) await client.query('SELECT pg_drop_replication_slot($1)', [follow.slot]);
    await client.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(follow.publication)}`);
    return slot !== undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

/** The advisory lock a catchup of `slot` holds while it runs. */
export function lockKey(slot: string): string {
  return BigInt.asIntN(64, BigInt(`0x${createHash('sha256').update(`pg2ddb catchup ${slot}`).digest('hex').slice(0, 16)}`)).toString();
}

/**
 * Where the WAL is flushed to, once every commit made before the call is (or
 * after 10 s, when that is left to a later pass). Not pg_current_wal_lsn
 * (written, maybe not flushed): peek reads flushed WAL only, so a commit
 * between the two would be missed, then confirmed unread once flushed. And
 * waited for from the insert position, not the written one: an asynchronous
 * commit has returned to its client once in the WAL's buffers, a few hundred
 * ms before the WAL writer writes it, and cutover's drain, once writers
 * stopped, must reach their last commit.
 */
async function flushedLsn(client: PgClient): Promise<string> {
  const { rows: [inserted] } = await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  for (let waited = 0; ; waited += 50) {
    const { rows: [at] } = await client.query<{ lsn: string; done: boolean }>(
      'SELECT pg_current_wal_flush_lsn()::text AS lsn, pg_current_wal_flush_lsn() >= $1::pg_lsn AS done', [inserted!.lsn],
    );
    if (at!.done || waited >= 10_000) return at!.lsn;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
