// What the snapshot holds: tables, their columns and primary keys, read from
// the catalog inside the snapshot transaction so schema and data agree.
import type { PgClient } from '../lib/postgres.ts';
import type { ColumnSchema } from '../lib/manifest.ts';

export interface CatalogTable {
  /** `table` in the public schema, else `schema.table`. */
  name: string;
  schema: string;
  table: string;
  columns: (ColumnSchema & { collatable: boolean })[];
  primary_key: string[];
  /** On-disk size, to start the largest tables first. */
  size_bytes: number;
  /** The planner's row estimate (pg_class.reltuples), to decide whether to split. */
  estimated_rows: number;
}

export async function readCatalog(client: PgClient, schemas: string[]): Promise<CatalogTable[]> {
  // Ordinary and partitioned tables; partitions are read through their parent
  // so no row is copied twice.
  const tables = await client.query<{ oid: number; schema: string; table: string; size: string; estimated_rows: number }>(
    `SELECT c.oid::int AS oid, n.nspname::text AS schema, c.relname::text AS table,
            pg_total_relation_size(c.oid)::text AS size, greatest(c.reltuples, 0)::float8 AS estimated_rows
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = ANY($1::text[])
      ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`,
    [schemas],
  );
  const oids = tables.rows.map((r) => r.oid);
  const columns = await client.query<{
    oid: number; name: string; type: string; category: string; element_type: string | null;
    element_category: string | null; base_type: string | null; not_null: boolean; generated: boolean; collatable: boolean;
  }>(
    `SELECT a.attrelid::int AS oid, a.attname::text AS name,
            format_type(a.atttypid, a.atttypmod) AS type,
            coalesce(bt.typcategory, t.typcategory)::text AS category,
            CASE WHEN t.typcategory = 'A' THEN format_type(t.typelem, a.atttypmod) END AS element_type,
            CASE WHEN t.typcategory = 'A' THEN et.typcategory::text END AS element_category,
            CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type,
            a.attnotnull AS not_null,
            a.attgenerated <> '' AS generated,
            a.attcollation <> 0 AS collatable
       FROM pg_attribute a
       JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
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
  return tables.rows.map((t) => ({
    name: t.schema === 'public' ? t.table : `${t.schema}.${t.table}`,
    schema: t.schema,
    table: t.table,
    size_bytes: Number(t.size),
    estimated_rows: Number(t.estimated_rows),
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
