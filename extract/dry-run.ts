// `extract --dry-run`: the tables and parts an extract would copy, read from
// PostgreSQL in one READ ONLY transaction, and the store only read (which
// tables a TABLE= run keeps). No file, no manifest, no report, no lock wait
// beyond --lock-wait-timeout.
import { runStorage } from '../lib/config.ts';
import { readExtractManifest } from '../lib/manifest.ts';
import { listSourceTables, readCatalog, skippedRelations, sourceRelation } from './catalog.ts';
import { DEFAULT_LOCK_WAIT_SECONDS } from './table-locks.ts';
import { partsKept, selectTables, type ExtractOptions } from './extract.ts';
import { planUnits } from './copy-units.ts';
import { exportSnapshot } from './snapshot.ts';

/** Tables up to this size get an exact count(*): a few seconds at most; larger ones keep the planner's estimate. */
const EXACT_COUNT_MAX_BYTES = 64 * 1024 * 1024;

export interface ExtractDryRun {
  dry_run: true;
  run: string;
  store: string;
  format: string;
  server_version: string;
  tables: { name: string; rows: number; rows_exact: boolean; size_bytes: number; parts: number }[];
  /** Tables the run's manifest has that a TABLE= extract leaves as they are. */
  kept: string[];
  skipped: { name: string; reason: string }[];
  totals: { tables: number; parts: number; rows: number; size_bytes: number };
}

export async function dryRunExtract(options: ExtractOptions): Promise<ExtractDryRun> {
  const run = runStorage(options.store, options.run);
  const snapshot = await exportSnapshot(options.databaseUrl);
  try {
    const client = snapshot.client;
    await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${Math.round((options.lockWaitSeconds ?? DEFAULT_LOCK_WAIT_SECONDS) * 1000)}ms`]);
    const selected = selectTables(await listSourceTables(client, options.schemas), options.tables, options.schemas);
    const catalog = await readCatalog(client, selected);
    const units = await planUnits(snapshot, catalog, { splitRows: options.splitRows, splitBytes: options.splitBytes, keptParts: await partsKept(run, catalog, options) });
    const tables: ExtractDryRun['tables'] = [];
    for (const t of catalog) {
      const exact = t.size_bytes <= EXACT_COUNT_MAX_BYTES;
      const rows = exact ? Number((await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${sourceRelation(t)}`)).rows[0]!.n) : Math.round(t.estimated_rows);
      tables.push({ name: t.name, rows, rows_exact: exact, size_bytes: t.size_bytes, parts: units.filter((u) => u.table === t.name).length });
    }
    const previous = options.tables && options.tables.length > 0 ? await readExtractManifest(run, { checkFiles: false }) : undefined;
    const names = new Set(tables.map((t) => t.name));
    return {
      dry_run: true, run: options.run, store: run.uri, format: options.format ?? 'csv', server_version: snapshot.server.version,
      tables,
      kept: (previous?.tables ?? []).map((t) => t.name).filter((n) => !names.has(n)),
      skipped: await skippedRelations(client, options.schemas),
      totals: {
        tables: tables.length, parts: units.length,
        rows: tables.reduce((n, t) => n + t.rows, 0), size_bytes: tables.reduce((n, t) => n + t.size_bytes, 0),
      },
    };
  } finally {
    await snapshot.close().catch(() => {});
  }
}

export function describeExtractDryRun(dryRun: ExtractDryRun): string[] {
  const lines = [`dry run, nothing written: ${dryRun.tables.length} table(s), ${dryRun.totals.parts} part(s) as ${dryRun.format} to ${dryRun.store}/extract/ (PostgreSQL ${dryRun.server_version})`];
  for (const t of dryRun.tables) {
    lines.push(`  ${t.name}: ${t.rows_exact ? `${t.rows} rows` : `~${t.rows} rows (estimated)`}, ${t.parts} part(s)`);
  }
  if (dryRun.kept.length > 0) lines.push(`  kept as extracted: ${dryRun.kept.length} table(s) (${dryRun.kept.join(', ')})`);
  for (const s of dryRun.skipped) lines.push(`  skipped ${s.name}: ${s.reason}`);
  const estimated = dryRun.tables.some((t) => !t.rows_exact);
  lines.push(`  total: ${estimated ? '~' : ''}${dryRun.totals.rows} rows${estimated ? ' (some estimated)' : ''} in ${dryRun.totals.parts} part(s)`);
  return lines;
}
