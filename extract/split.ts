// `--split-rows N`: a large table is copied as several primary-key ranges, so
// one table does not serialize the extract and transform has several units.
// Boundaries are read inside the snapshot (the PK value of every N-th row in
// COPY order), so the same data and N always give the same parts.
import { quoteIdent, quoteLiteral, type PgClient } from '../lib/postgres.ts';
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

export async function planRanges(client: PgClient, table: CatalogTable, splitRows: number | undefined): Promise<KeyRange[]> {
  if (!splitRows || table.primary_key.length === 0 || table.estimated_rows <= splitRows) return [{}];
  const keys = keyColumns(table);
  const order = keys.map((c) => (c.collatable ? `${quoteIdent(c.name)} COLLATE "C"` : quoteIdent(c.name))).join(', ');
  const { rows } = await client.query<{ key: string[] }>({
    text: `SELECT key FROM (
             SELECT ARRAY[${keys.map((c) => `${quoteIdent(c.name)}::text`).join(', ')}] AS key, row_number() OVER (ORDER BY ${order}) AS n
               FROM ${sourceRelation(table)}) numbered
            WHERE n % $1 = 1 AND n > 1 ORDER BY n`,
    values: [splitRows],
  });
  const bounds = rows.map((r) => r.key);
  return Array.from({ length: bounds.length + 1 }, (_, i) => ({
    ...(i > 0 ? { from: bounds[i - 1] } : {}),
    ...(i < bounds.length ? { to: bounds[i] } : {}),
  }));
}
