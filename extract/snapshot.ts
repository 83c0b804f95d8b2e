// One consistent instant for the whole extract (DESIGN.md "Extract"): a
// coordinator exports a REPEATABLE READ, READ ONLY snapshot and keeps its
// transaction open; every worker connection imports it before its first query.
import { VALUE_TEXT_SETTINGS, connect, endOrDrop, pinSettings, quoteLiteral, type PgClient } from '../lib/postgres.ts';

/**
 * Session settings pinned so COPY output never depends on server defaults: the
 * value-text settings (lib/postgres.ts), and no lock or idle timeout cutting an
 * extract short, read-only by default. row_security off, as pg_dump sets it: a
 * table whose row-level security policies would hide rows from the extract's
 * role fails its COPY ("query would be affected by row-level security policy
 * for table …") instead of being copied with only the rows the role may see.
 */
export const PINNED_SETTINGS: Readonly<Record<string, string>> = {
  ...VALUE_TEXT_SETTINGS,
  lock_timeout: '0',
  idle_in_transaction_session_timeout: '0',
  default_transaction_read_only: 'on',
  row_security: 'off',
};

/** Settings recorded in the manifest (those COPY output depends on), as the server reports them. */
const RECORDED_SETTINGS = ['TimeZone', 'DateStyle', 'IntervalStyle', 'extra_float_digits', 'bytea_output', 'client_encoding', 'server_encoding', 'standard_conforming_strings', 'lc_monetary'];

export interface Snapshot {
  id: string;
  /** The snapshot's server time, canonical UTC with microseconds. */
  asOf: string;
  server: { version: string; version_num: number; encoding: string; collation: string };
  settings: Record<string, string>;
  /** The coordinator's connection, inside the snapshot (catalog reads go here). */
  client: PgClient;
  close(): Promise<void>;
}

/**
 * `slotSnapshot`: the snapshot a replication slot exported (FOLLOW=1), which
 * the coordinator imports and workers join by the same name, instead of one of
 * its own: the extract then reads exactly what precedes the slot's changes.
 */
export async function exportSnapshot(databaseUrl: string | undefined, slotSnapshot?: string): Promise<Snapshot> {
  const client = await connect(databaseUrl, 'pg2ddb-extract');
  try {
    await pinSettings(client, PINNED_SETTINGS);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    if (slotSnapshot) await client.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(slotSnapshot)}`);
    // The first statement of the transaction takes the snapshot: its timestamp is the run's "now".
    const { rows: [snap] } = await client.query<{ id: string; as_of: string }>(
      `SELECT ${slotSnapshot ? '$1::text' : 'pg_export_snapshot()'} AS id,
              to_char(statement_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS as_of`,
      slotSnapshot ? [slotSnapshot] : [],
    );
    const { rows: [server] } = await client.query<{ version: string; version_num: string; encoding: string; collation: string }>(
      `SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS version_num,
              pg_encoding_to_char(encoding) AS encoding, datcollate::text AS collation
         FROM pg_database WHERE datname = current_database()`,
    );
    const { rows: settings } = await client.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings WHERE name = ANY($1::text[]) ORDER BY name COLLATE "C"`,
      [RECORDED_SETTINGS],
    );
    return {
      id: snap!.id,
      asOf: snap!.as_of,
      server: { version: server!.version, version_num: Number(server!.version_num), encoding: server!.encoding, collation: server!.collation },
      settings: Object.fromEntries(settings.map((s) => [s.name, s.setting])),
      client,
      close: () => endOrDrop(client),
    };
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
}

/** A worker connection that sees exactly the exported snapshot. */
export async function joinSnapshot(databaseUrl: string | undefined, snapshotId: string): Promise<PgClient> {
  const client = await connect(databaseUrl, 'pg2ddb-extract-worker');
  try {
    await pinSettings(client, PINNED_SETTINGS);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshotId)}`);
    return client;
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
}
