// What the snapshot holds: tables, their columns and primary keys, read from
// the catalog inside the snapshot transaction so schema and data agree.
// A partitioned table is one source table, read through its root (its
// partitions hold no rows of their own to copy twice); an inheritance table is
// read ONLY, since a plain read of a parent also returns its children's rows.
// Every relation of the selected schemas that is not copied is listed, with why.
import { UserError } from '../lib/errors.ts';
import { quoteIdent, type PgClient } from '../lib/postgres.ts';
import type { ColumnSchema } from '../lib/manifest.ts';
import { qualifiedName } from '../lib/run-layout.ts';

/** A table the extract can copy, as the catalog lists it (no lock taken on it yet). */
export interface SourceTable {
  /** `table` in the public schema, else `schema.table` (lib/run-layout.ts qualifiedName). */
  name: string;
  schema: string;
  table: string;
  /** pg_class oid, valid inside the run's snapshot (storage checks). */
  oid: number;
  /** A partitioned table: read (and locked) through the root, which reads every partition. */
  partitioned: boolean;
}

export interface CatalogTable extends SourceTable {
  columns: (ColumnSchema & { collatable: boolean })[];
  primary_key: string[];
  /** On-disk size (a partitioned table's: its partitions'), to start the largest tables first. */
  size_bytes: number;
  /** The planner's row estimate (pg_class.reltuples), to decide whether to split. */
  estimated_rows: number;
}

/** A relation of the selected schemas that the extract does not copy, and why. */
export interface SkippedRelation { name: string; reason: string }

/**
 * The source's storage relations: the table itself, or every partition of a
 * partitioned table (which has no storage of its own). `$1` is the source oid.
 */
export const STORAGE_OF = `SELECT $1::oid AS relid UNION
                    SELECT relid FROM pg_partition_tree($1::oid) WHERE (SELECT relkind FROM pg_class WHERE oid = $1::oid) = 'p'`;

/** `ONLY "s"."t"` for a plain table (a parent's own rows), `"s"."t"` for a partitioned one (every partition's). */
export function sourceRelation(table: Pick<CatalogTable, 'schema' | 'table' | 'partitioned'>): string {
  return `${table.partitioned ? '' : 'ONLY '}${quoteIdent(table.schema)}.${quoteIdent(table.table)}`;
}

/**
 * The tables of `schemas`: ordinary tables and partitioned roots. Only
 * catalog rows are read, so no table lock is taken before the extract's own
 * (extract/table-locks.ts), which name the table they wait for.
 */
export async function listSourceTables(client: PgClient, schemas: string[]): Promise<SourceTable[]> {
  const { rows } = await client.query<{ oid: number; schema: string; table: string; partitioned: boolean }>(
    `SELECT c.oid::int AS oid, n.nspname::text AS schema, c.relname::text AS table, c.relkind = 'p' AS partitioned
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = ANY($1::text[])
      ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`,
    [schemas],
  );
  return rows.map((t) => ({ name: qualifiedName(t.schema, t.table), ...t }));
}

/** Columns, primary keys, sizes and row estimates of `sources`, once they are locked (sizes open, so lock, each table). */
export async function readCatalog(client: PgClient, sources: SourceTable[]): Promise<CatalogTable[]> {
  const oids = sources.map((s) => s.oid);
  // Sizes and row estimates of a partitioned table are its partitions' (its own are 0 or -1).
  // Rows as the planner estimates them: the rows per page of the last ANALYZE/VACUUM times the
  // pages the table has now. reltuples alone is stale for a table grown since (autovacuum off
  // for a bulk load), and --split-bytes divides it by the current size: 40× the rows made 40×
  // the parts, past the run's MAX_RUN_PARTS. A table with a heap never analyzed (reltuples -1:
  // a bulk load with autovacuum off) is asked of the planner (EXPLAIN, below), which guesses
  // from its pages and column types; it stayed one part whatever its size.
  const sizes = await client.query<{ oid: number; size: string; estimated_rows: number; unanalyzed: boolean }>(
    `SELECT t.oid::int AS oid, sum(pg_total_relation_size(s.oid))::text AS size,
            bool_or(s.relkind = 'r' AND s.reltuples < 0 AND pg_relation_size(s.oid) > 0) AS unanalyzed,
            sum(CASE WHEN s.reltuples < 0 THEN 0
                     WHEN s.relpages > 0 THEN round(s.reltuples::float8 / s.relpages * (pg_relation_size(s.oid) / current_setting('block_size')::float8))
                     ELSE s.reltuples END)::float8 AS estimated_rows
       FROM unnest($1::oid[]) AS t(oid)
       CROSS JOIN LATERAL (${STORAGE_OF.replace(/\$1/g, 't.oid')}) r
       JOIN pg_class s ON s.oid = r.relid
      GROUP BY t.oid`,
    [oids],
  );
  const sizeByOid = new Map(sizes.rows.map((r) => [r.oid, r]));
  for (const source of sources) {
    const size = sizeByOid.get(source.oid);
    if (!size?.unanalyzed) continue;
    const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(`EXPLAIN (FORMAT JSON) SELECT 1 FROM ${sourceRelation(source)}`);
    size.estimated_rows = Math.round(Number(rows[0]!['QUERY PLAN'][0].Plan['Plan Rows']) || 0);
  }
  const columns = await client.query<{
    oid: number; name: string; type: string; category: string; element_type: string | null;
    element_category: string | null; base_type: string | null; not_null: boolean; generated: boolean; collatable: boolean;
  }>(
    `SELECT a.attrelid::int AS oid, a.attname::text AS name,
            format_type(a.atttypid, a.atttypmod) AS type,
            coalesce(bt.typcategory, t.typcategory)::text AS category,
            -- An array of a domain: the element's type at the bottom of its domains, as base_type below. The array is
            -- the column's type, or, for a domain (which has no typelem) over an array, the array at its bottom. An element
            -- at the bottom that is itself an array of a domain (a domain over posint[]) goes down too: 'integer[]'.
            CASE WHEN t.typcategory = 'A' AND arr.typelem <> 0 THEN (
              WITH RECURSIVE chain(elem, typmod, suffix, depth) AS (
                SELECT arr.typelem, coalesce(b.typmod, a.atttypmod), '', 0
                UNION ALL
                SELECT CASE WHEN d.typtype = 'd' THEN d.typbasetype ELSE d.typelem END, CASE WHEN d.typtype = 'd' THEN d.typtypmod ELSE chain.typmod END,
                       chain.suffix || CASE WHEN d.typtype = 'd' THEN '' ELSE '[]' END, chain.depth + 1
                  FROM chain JOIN pg_type d ON d.oid = chain.elem
                 WHERE d.typtype = 'd' OR (d.typcategory = 'A' AND EXISTS (SELECT 1 FROM pg_type e WHERE e.oid = d.typelem AND e.typtype = 'd')))
              SELECT format_type(elem, typmod) || suffix FROM chain ORDER BY depth DESC LIMIT 1) END AS element_type,
            CASE WHEN t.typcategory = 'A' AND arr.typelem <> 0 THEN et.typcategory::text END AS element_category,
            format_type(b.base, b.typmod) AS base_type,
            a.attnotnull AS not_null,
            a.attgenerated <> '' AS generated,
            a.attcollation <> 0 AS collatable
       FROM pg_attribute a
       JOIN pg_type t ON t.oid = a.atttypid
       -- A domain over a domain: the type at the bottom, with the typmod of the domain over it.
       LEFT JOIN LATERAL (
         WITH RECURSIVE chain(base, typmod, depth) AS (
           SELECT t.typbasetype, t.typtypmod, 0 WHERE t.typtype = 'd'
           UNION ALL
           SELECT d.typbasetype, d.typtypmod, chain.depth + 1 FROM chain JOIN pg_type d ON d.oid = chain.base AND d.typtype = 'd')
         SELECT base, typmod FROM chain ORDER BY depth DESC LIMIT 1) b ON true
       JOIN pg_type arr ON arr.oid = coalesce(b.base, t.oid)
       LEFT JOIN pg_type et ON et.oid = arr.typelem
       LEFT JOIN pg_type bt ON bt.oid = t.typbasetype AND t.typtype = 'd'
      WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attrelid, a.attnum`,
    [oids],
  );
  const keys = await client.query<{ oid: number; columns: string[] }>(
    `SELECT i.indrelid::int AS oid, array_agg(a.attname::text ORDER BY k.ord) AS columns
       FROM pg_index i
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indisprimary AND i.indrelid = ANY($1::oid[])
      GROUP BY i.indrelid`,
    [oids],
  );
  const keyByOid = new Map(keys.rows.map((r) => [r.oid, r.columns]));
  // PostgreSQL allows a table of no columns (CREATE TABLE t ()): its rows have nothing COPY can print or
  // DynamoDB can key, and its SELECT of no columns was a bare syntax error naming nothing.
  const empty = sources.filter((t) => !columns.rows.some((c) => c.oid === t.oid)).map((t) => t.name);
  if (empty.length > 0) {
    throw new UserError(`table(s) ${empty.join(', ')} have no columns, so their rows cannot be copied: give each a column, or extract the other tables with TABLE=`);
  }
  return sources.map((t) => ({
    ...t,
    size_bytes: Number(sizeByOid.get(t.oid)?.size ?? 0),
    estimated_rows: Number(sizeByOid.get(t.oid)?.estimated_rows ?? 0),
    primary_key: keyByOid.get(t.oid) ?? [],
    columns: columns.rows
      .filter((c) => c.oid === t.oid)
      .map((c) => ({
        name: c.name,
        type: c.type,
        category: c.category,
        ...(c.element_type ? { element_type: c.element_type, element_category: c.element_category ?? 'U' } : {}),
        ...(c.base_type ? { base_type: c.base_type } : {}),
        nullable: !c.not_null,
        ...(c.generated ? { generated: true } : {}),
        collatable: c.collatable,
      })),
  }));
}

/**
 * Relations whose rows the selected schemas hold or reach but the extract
 * does not copy: a partition whose root is in another schema, an inheritance
 * child in another schema (its parent is read ONLY), a foreign table, a
 * materialized view.
 */
export async function skippedRelations(client: PgClient, schemas: string[]): Promise<SkippedRelation[]> {
  const { rows } = await client.query<{ schema: string; table: string; kind: string; other_schema: string | null; other_table: string | null }>(
    `SELECT n.nspname::text AS schema, c.relname::text AS table,
            CASE WHEN c.relispartition THEN 'partition' WHEN c.relkind = 'f' THEN 'foreign' WHEN c.relkind = 'm' THEN 'matview' ELSE 'child' END AS kind,
            o.nspname::text AS other_schema, oc.relname::text AS other_table
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN LATERAL (SELECT CASE WHEN c.relispartition THEN pg_partition_root(c.oid)
                                      ELSE (SELECT i.inhparent FROM pg_inherits i WHERE i.inhrelid = c.oid ORDER BY i.inhseqno LIMIT 1) END AS oid) up ON true
       LEFT JOIN pg_class oc ON oc.oid = up.oid
       LEFT JOIN pg_namespace o ON o.oid = oc.relnamespace
      WHERE c.relkind IN ('r', 'p', 'f', 'm')
        AND CASE WHEN c.relispartition THEN n.nspname = ANY($1::text[]) AND NOT o.nspname = ANY($1::text[])
                 WHEN c.relkind IN ('f', 'm') THEN n.nspname = ANY($1::text[])
                 ELSE NOT n.nspname = ANY($1::text[]) AND o.nspname = ANY($1::text[]) END
      ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`,
    [schemas],
  );
  return rows.map((r) => {
    const other = r.other_schema !== null ? qualifiedName(r.other_schema, r.other_table!) : '';
    const reason = {
      partition: `partition of ${other}, which is not in the selected schemas (--schema ${r.other_schema} to include it)`,
      child: `inherits from ${other}, which is read ONLY (its own rows); its schema is not selected (--schema ${r.schema} to include it)`,
      foreign: 'foreign table: its rows live on another server (extract them there)',
      matview: 'materialized view: its rows are derived from tables (extract those)',
    }[r.kind as 'partition' | 'child' | 'foreign' | 'matview'];
    return { name: qualifiedName(r.schema, r.table), reason };
  });
}
