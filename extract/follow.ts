// `extract FOLLOW=1` (issue 17): a logical replication slot whose exported
// snapshot is the one every extract worker imports, as pgcopydb's `clone
// --follow` does. The slot keeps every change committed after its consistent
// point, so each change is either in the extract files or in the slot, never
// both, never neither; `make catchup` applies them. The publication and the
// slot are the only things written to the source, both named after the run.
import { UserError, errorMessage } from '../lib/errors.ts';
import { followNames } from '../lib/follow-names.ts';
import type { FollowEntry } from '../lib/manifest.ts';
import { connect, endOrDrop, quoteIdent, redact, type PgClient, type PgClientConfig } from '../lib/postgres.ts';
import { publicationState } from '../lib/publication-state.ts';
import type { SourceTable } from './catalog.ts';

/**
 * What a live run needs of the source, each refused with the statements that
 * fix it: logical WAL, the replication privilege, and every table's whole old
 * row in the WAL. REPLICA IDENTITY FULL is asked of every table, not only of
 * those whose item key reads more than the primary key: with any other
 * identity, pgoutput sends an update's unchanged TOASTed values as "unchanged"
 * with no text, and a delete's old row with the identity columns only, so the
 * item could not be rebuilt (nor its old key found) without reading the source.
 */
export async function checkFollowSource(client: PgClient, tables: SourceTable[]): Promise<void> {
  const { rows: [settings] } = await client.query<{ wal_level: string; user: string; replication: boolean; rds: boolean }>(
    `SELECT current_setting('wal_level') AS wal_level, current_user::text AS user,
            EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolreplication OR rolsuper))
              OR (EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_replication') AND pg_has_role('rds_replication', 'member')) AS replication,
            EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_replication') AS rds`,
  );
  if (settings!.wal_level !== 'logical') {
    throw new UserError(`FOLLOW=1 needs wal_level=logical, and the server runs wal_level=${settings!.wal_level}: run\n` +
      `  ALTER SYSTEM SET wal_level = logical;\n` +
      `then restart PostgreSQL (on RDS / Aurora: set rds.logical_replication = 1 in the DB parameter group and reboot), then rerun the extract`);
  }
  if (!settings!.replication) {
    throw new UserError(`FOLLOW=1 needs the replication privilege to create a replication slot, which ${quoteIdent(settings!.user)} lacks: run\n` +
      (settings!.rds ? `  GRANT rds_replication TO ${quoteIdent(settings!.user)};\n` : `  ALTER ROLE ${quoteIdent(settings!.user)} WITH REPLICATION;\n`) +
      `as an administrator, then rerun the extract`);
  }
  const { rows: generated } = await client.query<{ name: string; virtual: boolean }>(
    `SELECT c.relname::text AS name, bool_or(a.attgenerated = 'v') AS virtual FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE a.attrelid = ANY($1::oid[]) AND NOT a.attisdropped
        AND (a.attgenerated = 'v' OR (a.attgenerated = 's' AND current_setting('server_version_num')::int < 180000))
      GROUP BY 1 ORDER BY 1`,
    [tables.map((t) => t.oid)],
  );
  // Virtual generated columns (PostgreSQL 18) are never replicated: the extract would copy them and catchup stop at the first change.
  const virtual = generated.filter((g) => g.virtual);
  if (virtual.length > 0) {
    throw new UserError(`FOLLOW=1 cannot follow table(s) ${virtual.map((g) => g.name).join(', ')}: logical replication never sends virtual generated columns, ` +
      'so their items could not be rebuilt from a change; make the columns STORED, or migrate with the source frozen (no FOLLOW)');
  }
  if (generated.length > 0) {
    throw new UserError(`FOLLOW=1 on PostgreSQL before 18 cannot follow table(s) ${generated.map((g) => g.name).join(', ')}: logical replication does not send generated columns ` +
      'there (18 publishes stored ones), so their items could not be rebuilt from a change; upgrade the source, or migrate with the source frozen (no FOLLOW)');
  }
  // A partition logs its changes with its own replica identity, which the partitioned table's does not set:
  // every partition of a partitioned table needs FULL too.
  const { rows: notFull } = await client.query<{ schema: string; table: string }>(
    `SELECT n.nspname::text AS schema, c.relname::text AS table
       FROM unnest($1::oid[]) WITH ORDINALITY AS t(oid, at)
       CROSS JOIN LATERAL (SELECT t.oid AS relid UNION SELECT relid FROM pg_partition_tree(t.oid) WHERE relid <> t.oid) p
       JOIN pg_class c ON c.oid = p.relid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relreplident <> 'f' AND c.relkind IN ('r', 'p')
      ORDER BY t.at, c.oid <> t.oid, n.nspname, c.relname`,
    [tables.map((t) => t.oid)],
  );
  if (notFull.length > 0) {
    throw new UserError(`FOLLOW=1 needs REPLICA IDENTITY FULL on every table it migrates (and on each partition), so a delete or a key change carries the whole old row ` +
      `(the old item key) and an update its unchanged large values; ${notFull.length} table(s) lack it: run\n` +
      notFull.map((t) => `  ALTER TABLE ${quoteIdent(t.schema)}.${quoteIdent(t.table)} REPLICA IDENTITY FULL;\n`).join('') +
      'then rerun the extract (the old row is then logged on every update and delete until the migration ends: reset with REPLICA IDENTITY DEFAULT)');
  }
}

/** The slot's exported snapshot: valid while `close` has not been called (its walsender connection stays idle). */
export interface FollowSlot {
  follow: FollowEntry;
  snapshotName: string;
  close(): Promise<void>;
}

/**
 * Creates (or updates) the run's publication, then the slot: a slot created
 * before its publication would decode changes its publication does not yet
 * name. A slot left by an extract that never finished is dropped first (no
 * manifest recorded it, so nothing was caught up from it); one a finished
 * extract recorded is refused by the caller.
 */
export async function createFollowSlot(databaseUrl: string | undefined, run: string, tables: SourceTable[]): Promise<FollowSlot> {
  const { slot, publication } = followNames(run);
  const admin = await connect(databaseUrl, 'pg2ddb-extract-follow');
  let state: string | undefined;
  try {
    const list = tables.map((t) => `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`).join(', ');
    const { rowCount } = await admin.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication]);
    if (rowCount) await admin.query(`DROP PUBLICATION ${quoteIdent(publication)}`);
    // Partitioned tables publish as their root, the one source table extract reads. Generated
    // columns are extracted, so they are published too (PostgreSQL 18 can; catchup refuses without).
    const version = Number((await admin.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v);
    await admin.query(`CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${list} WITH (publish = 'insert, update, delete, truncate', ` +
      `publish_via_partition_root = true${version >= 180000 ? ", publish_generated_columns = 'stored'" : ''})`);
    // Read once made: any later ALTER of it, even one undone, makes catchup refuse the run.
    state = await publicationState(admin, publication);
    const { rows: [old] } = await admin.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    if (old?.active) throw new UserError(`replication slot ${slot} is in use by another session (a catchup of run ${run}?): let it finish, then rerun the extract`);
    if (old) await admin.query('SELECT pg_drop_replication_slot($1)', [slot]);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`extract FOLLOW=1: cannot create publication ${publication}: ${redact(errorMessage(err))}`);
  } finally {
    await admin.end().catch(() => {});
  }
  // node-postgres sends `replication` in the startup packet, though its types do not declare it.
  const walsender = await connect(databaseUrl, 'pg2ddb-extract-slot', { replication: 'database' } as Partial<PgClientConfig>);
  try {
    const { rows: [created] } = await walsender.query<{ consistent_point: string; snapshot_name: string }>(
      `CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput (SNAPSHOT 'export')`,
    );
    return {
      follow: { slot, publication, consistent_lsn: created!.consistent_point, tables: tables.map((t) => t.name), publication_state: state },
      snapshotName: created!.snapshot_name,
      close: () => endOrDrop(walsender),
    };
  } catch (err) {
    await walsender.end().catch(() => {});
    throw new UserError(`extract FOLLOW=1: cannot create replication slot ${slot}: ${redact(errorMessage(err))}`);
  }
}
