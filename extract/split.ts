// `--split-rows N` and `--split-bytes B`: a large table is copied as several
// primary-key ranges, so one table does not serialize the extract and transform
// has several units (one worker, one core each). Boundaries are read inside the
// snapshot (the PK value of every N-th row in COPY order), so the same data and
// N always give the same parts. N is at most --split-rows, and small enough that
// a part is about --split-bytes of the table's on-disk size (planSplits); the
// run's parts stay under what one ImportTable reads (MAX_RUN_PARTS).
import { quoteIdent, quoteLiteral, releasingLocks, type PgClient } from '../lib/postgres.ts';
import { sourceRelation, type CatalogTable } from './catalog.ts';

/** A half-open key range: rows with key ≥ `from` (when set) and < `to` (when set). Values as PostgreSQL prints them. */
export interface KeyRange { from?: string[]; to?: string[] }

function keyColumns(table: CatalogTable) {
  return table.primary_key.map((name) => table.columns.find((c) => c.name === name)!);
}

/** The key as a row value, ordered as COPY orders it (text keys by COLLATE "C"). */
function keyRow(table: CatalogTable): string {
  return `ROW(${keyColumns(table).map((c) => (c.collatable ? `${quoteIdent(c.name)} COLLATE "C"` : quoteIdent(c.name))).join(', ')})`;
}

function literalRow(table: CatalogTable, values: string[]): string {
  return `ROW(${keyColumns(table).map((c, i) => `${quoteLiteral(values[i]!)}::${c.type}${c.collatable ? ' COLLATE "C"' : ''}`).join(', ')})`;
}

/** The WHERE clause of a range, or '' for the whole table. Literals are quoted; names come from the catalog. */
export function rangePredicate(table: CatalogTable, range: KeyRange): string {
  const terms: string[] = [];
  if (range.from) terms.push(`${keyRow(table)} >= ${literalRow(table, range.from)}`);
  if (range.to) terms.push(`${keyRow(table)} < ${literalRow(table, range.to)}`);
  return terms.length > 0 ? ` WHERE ${terms.join(' AND ')}` : '';
}

/**
 * The ranges of `table`, each of `rowsPerPart` rows (the last of the rest); one
 * range (the whole table) when unset, when the table has no primary key, or
 * when the planner estimates no more rows than that. Row 1 + k·N starts a part:
 * `n % N = 1` never held for N = 1 (a row larger than --split-bytes), which
 * left the table one part where the plan counted one per row.
 */
export async function planRanges(client: PgClient, table: CatalogTable, rowsPerPart: number | undefined): Promise<KeyRange[]> {
  if (!rowsPerPart || table.primary_key.length === 0 || table.estimated_rows <= rowsPerPart) return [{}];
  const keys = keyColumns(table);
  const order = keys.map((c) => (c.collatable ? `${quoteIdent(c.name)} COLLATE "C"` : quoteIdent(c.name))).join(', ');
  // Planning locks the table's indexes, which the snapshot's transaction would keep to the end (lib/postgres.ts).
  const { rows } = await releasingLocks(client, () => client.query<{ key: string[] }>({
    text: `SELECT key FROM (
             SELECT ARRAY[${keys.map((c) => `${quoteIdent(c.name)}::text`).join(', ')}] AS key, row_number() OVER (ORDER BY ${order}) AS n
               FROM ${sourceRelation(table)}) numbered
            WHERE (n - 1) % $1 = 0 AND n > 1 ORDER BY n`,
    values: [rowsPerPart],
  }));
  const bounds = rows.map((r) => r.key);
  return Array.from({ length: bounds.length + 1 }, (_, i) => ({
    ...(i > 0 ? { from: bounds[i - 1] } : {}),
    ...(i < bounds.length ? { to: bounds[i] } : {}),
  }));
}

/**
 * `--split-bytes` unless set: 128 MiB of the table on disk, about 130 MB of
 * CSV per part. Parts are not free: each part's COPY filters a key range, and
 * while a range is a large share of its table PostgreSQL reads the whole
 * table for it (a sequential scan, then a sort of the range), and each unit
 * has its own costs in transform. Measured on the bench database at SCALE=0.4
 * (2 cores, PostgreSQL 18, 2 runs each): 32 MiB made 24 parts where 250k rows
 * alone made fewer, extract took 15–16 s against 12.3 s, and processing_jobs
 * (218 MB on disk, 2 parts by rows, about 10 at 32 MiB) took 25 CPU-seconds
 * to transform against 20.5, and longer. At SCALE=0.2 the same table (1 part
 * by rows) as 4 parts transformed in 6.9 s against 8.8 s at best on 2 workers.
 * 128 MiB puts every table of more than 128 MiB on two cores or more, and a
 * TB on disk is about 8,000 parts, well under MAX_RUN_PARTS.
 */
export const DEFAULT_SPLIT_BYTES = 128 * 1024 * 1024;

/**
 * `--split-bytes` as typed: whole bytes, or with a binary suffix (`64MiB`,
 * `64M`, `1GiB`, `512k`); 0 splits by rows alone. Undefined when not a size.
 */
export function parseByteSize(text: string): number | undefined {
  const match = /^\s*(\d+)\s*(?:([kmgt])(?:i?b)?|b)?\s*$/i.exec(String(text));
  if (!match) return undefined;
  const power = match[2] ? 'kmgt'.indexOf(match[2].toLowerCase()) + 1 : 0;
  const bytes = Number(match[1]) * 1024 ** power;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/**
 * Parts a run may plan in all. Transform writes one item file per extract part
 * and load imports every table's items in one ImportTable, which reads at most
 * 50,000 objects (load/import-preflight.ts MAX_IMPORT_OBJECTS); parts are
 * planned from the planner's row estimates, so a fifth is left for estimates
 * that fall short.
 */
export const MAX_RUN_PARTS = 40_000;

export interface SplitOptions {
  /** At most this many rows per part (`--split-rows`). */
  splitRows?: number;
  /** About this many bytes of the table's on-disk size per part (`--split-bytes`; 0 or unset: rows alone). */
  splitBytes?: number;
  /** Parts of the whole run at most (default MAX_RUN_PARTS). */
  maxParts?: number;
  /** Parts the run keeps of tables this extract does not copy (a `TABLE=` rerun): they count toward maxParts. */
  keptParts?: number;
}

export interface SplitPlan {
  /** Rows per part of each table to split (absent: one part). */
  rowsPerPart: Map<string, number>;
  /** Parts the estimates give, these tables' alone. */
  parts: number;
  /** Set when maxParts made parts larger than --split-rows/--split-bytes ask: by this factor. */
  grownBy?: number;
}

type SplitTable = Pick<CatalogTable, 'name' | 'primary_key' | 'estimated_rows' | 'size_bytes'>;

/** `n` rounded up to two significant digits (12345 → 13000): statistics that drift a little give the same parts. */
export function roundUpTwoDigits(n: number): number {
  const whole = Math.ceil(n);
  const unit = 10 ** Math.max(0, String(whole).length - 2);
  return Math.ceil(whole / unit) * unit;
}

/**
 * Rows per part of each table, from the catalog's estimates alone (no query).
 * A table with a primary key is split into parts of at most `splitRows` rows;
 * with `splitBytes`, a table larger than that (pg_total_relation_size) is split
 * into ceil(size / splitBytes) parts of equal rows (the rows per part rounded
 * up to two digits), whichever gives more parts. A table without a primary key
 * or without a row estimate (none, or an empty table: extract/catalog.ts asks the
 * planner for one of a table never analyzed) stays one part. When the run's
 * parts would pass `maxParts`, every table's rows per part grow by one factor
 * until they fit.
 */
export function planSplits(tables: SplitTable[], options: SplitOptions): SplitPlan {
  const wanted = new Map<string, number>();
  for (const t of tables) {
    if (t.primary_key.length === 0 || !(t.estimated_rows > 0)) continue;
    let rows = options.splitRows && options.splitRows > 0 ? options.splitRows : Infinity;
    if (options.splitBytes && options.splitBytes > 0 && t.size_bytes > options.splitBytes) {
      rows = Math.min(rows, roundUpTwoDigits(t.estimated_rows / Math.ceil(t.size_bytes / options.splitBytes)));
    }
    if (Number.isFinite(rows)) wanted.set(t.name, Math.max(1, Math.floor(rows)));
  }
  const partsOf = (t: SplitTable, rows: number | undefined) => (rows === undefined || t.estimated_rows <= rows ? 1 : Math.ceil(t.estimated_rows / rows));
  const scaled = (factor: number) => new Map([...wanted].map(([name, rows]) => [name, factor === 1 ? rows : Math.ceil(rows * factor)]));
  const total = (plan: Map<string, number>) => tables.reduce((n, t) => n + partsOf(t, plan.get(t.name)), 0);
  const budget = (options.maxParts ?? MAX_RUN_PARTS) - (options.keptParts ?? 0);
  const parts = total(wanted);
  if (parts <= budget) return { rowsPerPart: wanted, parts };
  // The smallest factor whose parts fit: parts only fall as it grows. At `high` every table is one part
  // (when even that is more than the budget, there are more tables than it: the most that can be done).
  let low = 1;
  let high = Math.max(1, ...tables.map((t) => (wanted.has(t.name) ? t.estimated_rows / wanted.get(t.name)! + 1 : 1)));
  for (let i = 0; i < 100 && high - low > 1e-9 * high; i++) {
    const middle = (low + high) / 2;
    if (total(scaled(middle)) <= budget) high = middle;
    else low = middle;
  }
  const grown = scaled(high);
  return { rowsPerPart: grown, parts: total(grown), grownBy: high };
}
