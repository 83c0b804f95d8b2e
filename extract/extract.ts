// The extract stage: every selected table, from one snapshot, to
// `<run>/extract/<table>/part-00000.csv.gz`, then the manifest, written last,
// so a run without a manifest entry for a table never claims that table.
import { runStorage } from '../lib/config.ts';
import { UserError, errorMessage } from '../lib/errors.ts';
import { Progress, formatBytes, type Logger } from '../lib/log.ts';
import {
  EXTRACT_FORMAT, EXTRACT_MANIFEST_KEY, manifestText, readExtractManifest,
  type ExtractManifest, type TableEntry,
} from '../lib/manifest.ts';
import { redact, type PgClient } from '../lib/postgres.ts';
import type { Storage } from '../lib/storage.ts';
import { readCatalog, type CatalogTable } from './catalog.ts';
import { copyTable } from './copy-table.ts';
import { exportSnapshot, joinSnapshot, type Snapshot } from './snapshot.ts';

export interface ExtractOptions {
  /** Unset: libpq's PG* variables. */
  databaseUrl?: string;
  store: string;
  run: string;
  /** Only these tables; the manifest keeps every other table's entry. */
  tables?: string[];
  concurrency: number;
  schemas: string[];
  gzipLevel: number;
  log: Logger;
}

export interface ExtractSummary {
  run: string;
  store: string;
  as_of: string;
  server_version: string;
  tables: { name: string; rows: number; raw_bytes: number; bytes: number; seconds: number }[];
  rows: number;
  raw_bytes: number;
  bytes: number;
  seconds: number;
}

export async function runExtract(options: ExtractOptions): Promise<ExtractSummary> {
  const started = Date.now();
  const run = runStorage(options.store, options.run);
  const snapshot = await exportSnapshot(options.databaseUrl);
  try {
    const catalog = await readCatalog(snapshot.client, options.schemas);
    const selected = selectTables(catalog, options.tables, options.schemas);
    await checkWritable(run);
    options.log(`snapshot ${snapshot.id} at ${snapshot.asOf} (PostgreSQL ${snapshot.server.version}); ${selected.length} table(s) to ${run.uri}`);

    const entries = await copyTables(selected, snapshot, run, options);
    const previous = options.tables ? await readExtractManifest(run) : undefined;
    const manifest = buildManifest(previous, entries, snapshot, options);
    await run.put(EXTRACT_MANIFEST_KEY, manifestText(manifest));

    const tables = entries.map((e) => ({ name: e.entry.name, rows: e.entry.rows, raw_bytes: e.entry.raw_bytes, bytes: e.entry.bytes, seconds: e.seconds }));
    return {
      run: options.run,
      store: run.uri,
      as_of: manifest.as_of,
      server_version: snapshot.server.version,
      tables,
      rows: sum(tables.map((t) => t.rows)),
      raw_bytes: sum(tables.map((t) => t.raw_bytes)),
      bytes: sum(tables.map((t) => t.bytes)),
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await snapshot.close().catch(() => {});
  }
}

/** Resolves `--table` names against the catalog: user input never reaches SQL. */
export function selectTables(catalog: CatalogTable[], wanted: string[] | undefined, schemas: string[]): CatalogTable[] {
  if (!wanted || wanted.length === 0) {
    if (catalog.length === 0) throw new UserError(`no tables found in schema(s) ${schemas.join(', ')}`);
    return catalog;
  }
  const unknown = wanted.filter((name) => !catalog.some((t) => t.name === name || `${t.schema}.${t.table}` === name));
  if (unknown.length > 0) {
    throw new UserError(`no such table: ${unknown.map((n) => JSON.stringify(n)).join(', ')}; tables in ${schemas.join(', ')}: ${catalog.map((t) => t.name).join(', ') || '(none)'}`);
  }
  return catalog.filter((t) => wanted.some((name) => t.name === name || `${t.schema}.${t.table}` === name));
}

/** Fails before any COPY starts when the store cannot be written. */
async function checkWritable(run: Storage): Promise<void> {
  const key = 'extract/.write-check';
  await run.put(key, 'pg2ddb write check\n');
  await run.delete(key);
}

interface CopiedTable { entry: TableEntry; seconds: number }

/** A pool of worker connections in the snapshot; the largest tables start first. */
async function copyTables(tables: CatalogTable[], snapshot: Snapshot, run: Storage, options: ExtractOptions): Promise<CopiedTable[]> {
  const queue = [...tables].sort((a, b) => b.size_bytes - a.size_bytes || (a.name < b.name ? -1 : 1));
  const done: CopiedTable[] = [];
  const clients = new Set<PgClient>();
  const progress = new Progress(tables.length);
  let failure: unknown;

  const worker = async (): Promise<void> => {
    let client: PgClient | undefined;
    try {
      while (failure === undefined && queue.length > 0) {
        const table = queue.shift()!;
        if (!client) {
          client = await joinSnapshot(options.databaseUrl, snapshot.id);
          clients.add(client);
        }
        const started = Date.now();
        progress.start(table.name);
        let part;
        try {
          part = await copyTable(client, table, run, options.gzipLevel, (rows, bytes) => progress.update(table.name, rows, bytes));
        } catch (err) {
          throw new UserError(`table ${table.name}: ${redact(errorMessage(err))}`);
        }
        progress.finish(table.name);
        const seconds = (Date.now() - started) / 1000;
        options.log(`${table.name}: ${part.rows} rows, ${formatBytes(part.raw_bytes)} → ${formatBytes(part.bytes)} gzip in ${seconds.toFixed(1)} s (${formatBytes(part.raw_bytes / Math.max(seconds, 0.001))}/s)`);
        done.push({ entry: tableEntry(table, snapshot, part), seconds });
      }
    } catch (err) {
      if (failure === undefined) {
        failure = err;
        // Stop the other workers' COPYs: the run has failed and will publish no manifest.
        for (const other of clients) if (other !== client) other.end().catch(() => {});
      }
    } finally {
      if (client) {
        clients.delete(client);
        await client.end().catch(() => {});
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, tables.length) }, worker));
  if (failure !== undefined) throw failure;
  return done.sort((a, b) => (a.entry.name < b.entry.name ? -1 : 1));
}

function tableEntry(table: CatalogTable, snapshot: Snapshot, part: TableEntry['parts'][number]): TableEntry {
  return {
    name: table.name,
    schema: table.schema,
    table: table.table,
    as_of: snapshot.asOf,
    snapshot_id: snapshot.id,
    columns: table.columns.map(({ collatable: _collatable, ...column }) => column),
    primary_key: table.primary_key,
    order_by: table.primary_key.length > 0 ? table.primary_key : table.columns.map((c) => c.name),
    ...(table.primary_key.length === 0 ? { no_primary_key: true as const } : {}),
    rows: part.rows,
    raw_bytes: part.raw_bytes,
    bytes: part.bytes,
    parts: [part],
  };
}

/** A `TABLE=` rerun replaces only its tables' entries; the run keeps its own `as_of`. */
function buildManifest(previous: ExtractManifest | undefined, entries: CopiedTable[], snapshot: Snapshot, options: ExtractOptions): ExtractManifest {
  const fresh = new Set(entries.map((e) => e.entry.name));
  const tables = [...(previous?.tables.filter((t) => !fresh.has(t.name)) ?? []), ...entries.map((e) => e.entry)];
  const snapshotId = previous?.snapshot_id ?? snapshot.id;
  return {
    format: EXTRACT_FORMAT,
    run_id: options.run,
    as_of: previous?.as_of ?? snapshot.asOf,
    snapshot_id: snapshotId,
    consistent: tables.every((t) => t.snapshot_id === snapshotId),
    server: snapshot.server,
    settings: snapshot.settings,
    options: { format: 'csv', compression: 'gzip', gzip_level: options.gzipLevel, schemas: options.schemas },
    tables,
  };
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

