// The extract manifest: the catalog of a run (what pgcopydb keeps on disk so a
// restart knows what is done). Declared once here; every stage imports it.
import type { Compression } from './compression.ts';
import type { Storage } from './storage.ts';
import { UserError } from './errors.ts';
import { EXTRACT_MANIFEST_KEY } from './run-layout.ts';

export const EXTRACT_FORMAT = 'pg2ddb.extract/1';

export interface ColumnSchema {
  name: string;
  /** `format_type(atttypid, atttypmod)`, e.g. `numeric(10,2)`, `text[]`, `auth_provider_type`. */
  type: string;
  /** PostgreSQL's `typcategory` letter of the type (A array, B bool, D datetime, E enum, N numeric, S string, U user...). */
  category: string;
  /** For arrays: the element's `format_type` (an element domain's base type), and its category. */
  element_type?: string;
  element_category?: string;
  /** The base type a domain stands for (decoders type it by this). */
  base_type?: string;
  nullable: boolean;
  /** GENERATED ALWAYS AS ... STORED columns: extracted, never written back. */
  generated?: boolean;
}

export interface PartEntry {
  key: string;
  rows: number;
  /** The COPY text as PostgreSQL sent it (uncompressed). */
  raw_bytes: number;
  raw_sha256: string;
  /** The object as stored (compressed as the manifest's options say; the key's suffix says it too). */
  bytes: number;
  sha256: string;
  /** Set when the table was split (`--split-rows`): primary-key values, from inclusive, to exclusive. */
  range?: { from?: string[]; to?: string[] };
  /**
   * The part as Parquet (`--format parquet|both`): the same rows, in the same
   * order. With `parquet` alone it is the part's own file (`key` equals its key).
   */
  parquet?: ParquetFile;
}

/** `csv`: gzip CSV parts; `parquet`: Parquet parts; `both`: each part in both, from the one COPY. */
export type ExtractFormat = 'csv' | 'parquet' | 'both';

export interface ParquetFile {
  key: string;
  bytes: number;
  sha256: string;
  row_groups: number;
}

export interface TableEntry {
  /** The name stages use: `table` in the public schema, else `schema.table`. */
  name: string;
  schema: string;
  table: string;
  /** Snapshot instant this table was copied at (differs from the run's only after a `TABLE=` rerun). */
  as_of: string;
  snapshot_id: string;
  columns: ColumnSchema[];
  primary_key: string[];
  /** Columns the COPY was ordered by: the primary key, or every column when there is none. */
  order_by: string[];
  /** Set when the table has no primary key: its rows cannot be keyed without a mapper that says how. */
  no_primary_key?: true;
  rows: number;
  raw_bytes: number;
  bytes: number;
  parts: PartEntry[];
}

export interface ExtractManifest {
  format: typeof EXTRACT_FORMAT;
  run_id: string;
  /** The snapshot's server time, canonical `YYYY-MM-DDTHH:MM:SS.ffffffZ`: the run's "now". */
  as_of: string;
  snapshot_id: string;
  /** True while every table comes from the run's snapshot. */
  consistent: boolean;
  server: { version: string; version_num: number; encoding: string; collation: string };
  /** Session settings the COPY output depends on, as the server reported them. */
  settings: Record<string, string>;
  /** `compression` and `gzip_level` are the CSV files' (Parquet pages say their own codec); zstd's level is 1 when gzip_level is 0. */
  options: { format: ExtractFormat; compression: Compression; gzip_level: number; schemas: string[] };
  /**
   * Relations of the selected schemas whose rows are not in the run, and why:
   * a partition whose root is in another schema, an inheritance child in
   * another schema, a foreign table, a materialized view. Absent when none.
   */
  skipped?: { name: string; reason: string }[];
  /** Set by `extract FOLLOW=1`: the slot whose exported snapshot this run was copied from (catchup reads it). */
  follow?: FollowEntry;
  tables: TableEntry[];
}

/**
 * The logical replication slot of a live run: every change committed after
 * `consistent_lsn` is in the slot and none before it, so each change is either
 * in the extract files or in the slot, never both, never neither.
 */
export interface FollowEntry {
  slot: string;
  publication: string;
  /** The slot's consistent point (`X/Y`), where its exported snapshot stands. */
  consistent_lsn: string;
  /** The tables the publication holds (the run's tables). */
  tables: string[];
  /** The publication's catalog rows when it was made (lib/publication-state.ts); absent in runs before it was recorded. */
  publication_state?: string;
}

/**
 * The run's extract manifest, or undefined when there is none. Unless
 * `checkFiles` is false, every part it lists must be stored with the size it
 * gives: a missing or truncated part is refused here, by name, before a stage
 * reads (or writes) anything; its sha256 is checked as the part is read.
 */
export async function readExtractManifest(run: Storage, { checkFiles = true } = {}): Promise<ExtractManifest | undefined> {
  const manifest = await readManifest<ExtractManifest>(run, EXTRACT_MANIFEST_KEY, EXTRACT_FORMAT);
  if (manifest && checkFiles) await checkExtractFiles(run, manifest);
  return manifest;
}

/**
 * A stage's manifest, or undefined when there is none: valid JSON, of the
 * expected format, and written for this very run.
 */
export async function readManifest<T extends { format: string; run_id: string }>(run: Storage, key: string, format: string): Promise<T | undefined> {
  const text = await run.getText(key);
  if (text === undefined) return undefined;
  let manifest: T;
  try {
    manifest = JSON.parse(text) as T;
  } catch {
    throw new UserError(`${run.uri}/${key} is not valid JSON`);
  }
  if (manifest.format !== format) {
    throw new UserError(`${run.uri}/${key} has format ${JSON.stringify(manifest.format)}, expected ${format}`);
  }
  checkManifestRun(run, key, manifest.run_id);
  return manifest;
}

/** Every part the manifest lists is stored, with the size it gives (both files of a `both` part). */
export async function checkExtractFiles(run: Storage, manifest: ExtractManifest): Promise<void> {
  const stored = new Map((await run.list('extract')).map((o) => [o.key, o.bytes]));
  for (const table of manifest.tables) {
    for (const part of table.parts) {
      for (const file of part.parquet ? [part, part.parquet] : [part]) {
        const bytes = stored.get(file.key);
        if (bytes === undefined) {
          throw new UserError(`${run.uri}/${file.key} (table ${table.name}): no such file or directory, yet the extract manifest lists it`);
        }
        if (bytes !== file.bytes) {
          throw new UserError(`${run.uri}/${file.key} (table ${table.name}): ${bytes} bytes where the extract manifest says ${file.bytes}: ${changedAfterExtract(table.name)}`);
        }
      }
    }
  }
}

/** Which file of each part transform reads: `csv` or `parquet`; unset, the part's own file (the CSV when both). */
export type TransformInput = 'csv' | 'parquet';

/**
 * Why a part no longer matches its manifest entry, and the fix: an extract of
 * the table still running or stopped part-way (it writes over the parts before
 * the manifest), or an edit.
 */
export function changedAfterExtract(table: string): string {
  return `the file changed after extract (an extract of the table running or stopped part-way, or an edit): make extract TABLE=${table} copies it again`;
}

/**
 * The part as a reader of `input` sees it: the same part whose key, bytes
 * and sha256 are those of the file it reads, so every check of that file (size,
 * sha256, unit fingerprints) covers the file actually read.
 */
export function inputPart(part: PartEntry, input?: TransformInput): PartEntry {
  const own: TransformInput = part.key.endsWith('.parquet') ? 'parquet' : 'csv';
  if (input === undefined || input === own) return part;
  if (input === 'parquet' && part.parquet) {
    const { parquet, ...csv } = part;
    return { ...csv, key: parquet.key, bytes: parquet.bytes, sha256: parquet.sha256 };
  }
  throw new UserError(`${part.key} has no ${input === 'parquet' ? 'Parquet' : 'CSV'} file: the run was extracted with --format ${own}; extract with --format both (or ${input}) to read ${input}`);
}

/**
 * A manifest copied in from another run describes other files (or the same
 * files of another instant): refused, since every stage trusts it. The run id
 * is the last segment of the run's storage root (`<store>/<run>`).
 */
export function checkManifestRun(run: Storage, key: string, runId: unknown): void {
  const expected = run.uri.slice(run.uri.lastIndexOf('/') + 1);
  if (runId !== expected) {
    throw new UserError(`${run.uri}/${key} belongs to run ${JSON.stringify(runId)}, not to run ${JSON.stringify(expected)}: it was copied from another run`);
  }
}

/** Manifests are written with sorted tables and stable key order so reruns diff cleanly. */
export function manifestText(manifest: ExtractManifest): string {
  const tables = [...manifest.tables].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return `${JSON.stringify({ ...manifest, tables }, null, 2)}\n`;
}
