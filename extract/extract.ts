// The extract stage: every selected table, from one snapshot, to
// `<run>/extract/<table>/part-00000.csv.gz`, then the manifest, written last,
// so a run without a manifest entry for a table never claims that table.
import { runStorage } from '../lib/config.ts';
import { UserError, errorMessage } from '../lib/errors.ts';
import { Progress, formatBytes, type Logger } from '../lib/log.ts';
import {
  EXTRACT_FORMAT, EXTRACT_MANIFEST_KEY, manifestText, readExtractManifest,
  type ExtractManifest, type PartEntry, type TableEntry,
} from '../lib/manifest.ts';
import { redact, type PgClient } from '../lib/postgres.ts';
import type { Storage } from '../lib/storage.ts';
import { readCatalog, type CatalogTable } from './catalog.ts';
import { copyTable } from './copy-table.ts';
import { exportSnapshot, joinSnapshot, type Snapshot } from './snapshot.ts';
import { planRanges, type KeyRange } from './split.ts';

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
  /** Split tables of more than this many (estimated) rows into primary-key ranges of about this size. */
  splitRows?: number;
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
    // Temp files of an extract killed earlier are never listed; remove them so the run holds only complete files.
    await run.removeLeftovers('extract');
    options.log(`snapshot ${snapshot.id} at ${snapshot.asOf} (PostgreSQL ${snapshot.server.version}); ${selected.length} table(s) to ${run.uri}`);

    const entries = await copyTables(selected, snapshot, run, options);
    const previous = options.tables ? await readExtractManifest(run, { checkFiles: false }) : undefined;
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

interface CopyJob { table: CatalogTable; index: number; of: number; range: KeyRange }

/**
 * A pool of worker connections in the snapshot copies every part of every
 * table, the largest first; a table's entry is built once all its parts are in.
 */
async function copyTables(tables: CatalogTable[], snapshot: Snapshot, run: Storage, options: ExtractOptions): Promise<CopiedTable[]> {
  const jobs: CopyJob[] = [];
  for (const table of tables) {
    const ranges = await planRanges(snapshot.client, table, options.splitRows);
    ranges.forEach((range, index) => jobs.push({ table, index, of: ranges.length, range }));
  }
  const size = (job: CopyJob) => job.table.size_bytes / job.of;
  const queue = jobs.sort((a, b) => size(b) - size(a) || (a.table.name < b.table.name ? -1 : a.table.name > b.table.name ? 1 : a.index - b.index));
  const parts = new Map<string, PartEntry[]>();
  const seconds = new Map<string, number>();
  const clients = new Set<PgClient>();
  const progress = new Progress(jobs.length);
  let failure: unknown;

  const worker = async (): Promise<void> => {
    let client: PgClient | undefined;
    try {
      while (failure === undefined && queue.length > 0) {
        const job = queue.shift()!;
        const { table } = job;
        const label = job.of > 1 ? `${table.name} part ${job.index + 1}/${job.of}` : table.name;
        if (!client) {
          client = await joinSnapshot(options.databaseUrl, snapshot.id);
          clients.add(client);
        }
        const started = Date.now();
        progress.start(label);
        let part: PartEntry;
        try {
          part = await copyTable(client, table, job, run, options.gzipLevel, (rows, bytes) => progress.update(label, rows, bytes));
        } catch (err) {
          throw new UserError(`table ${label}: ${redact(errorMessage(err))}`);
        }
        progress.finish(label);
        const took = (Date.now() - started) / 1000;
        options.log(`${label}: ${part.rows} rows, ${formatBytes(part.raw_bytes)} → ${formatBytes(part.bytes)} gzip in ${took.toFixed(1)} s (${formatBytes(part.raw_bytes / Math.max(took, 0.001))}/s)`);
        parts.set(table.name, [...(parts.get(table.name) ?? []), part]);
        seconds.set(table.name, (seconds.get(table.name) ?? 0) + took);
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
  await Promise.all(Array.from({ length: Math.min(options.concurrency, jobs.length) }, worker));
  if (failure !== undefined) throw failure;
  return tables
    .map((table) => {
      const tableParts = parts.get(table.name)!.sort((a, b) => (a.key < b.key ? -1 : 1));
      return { entry: tableEntry(table, snapshot, tableParts), seconds: seconds.get(table.name)! };
    })
    .sort((a, b) => (a.entry.name < b.entry.name ? -1 : 1));
}

function tableEntry(table: CatalogTable, snapshot: Snapshot, parts: PartEntry[]): TableEntry {
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
    rows: sum(parts.map((p) => p.rows)),
    raw_bytes: sum(parts.map((p) => p.raw_bytes)),
    bytes: sum(parts.map((p) => p.bytes)),
    parts,
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

