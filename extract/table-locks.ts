// Concurrent DDL during an extract. TRUNCATE and table-rewriting commands
// (ALTER TABLE … TYPE, VACUUM FULL, CLUSTER) are not MVCC-safe: they give the
// table a new, empty-to-old-snapshots file, so a snapshot taken before them
// reads the table as empty. As pg_dump does, the snapshot's own transaction
// takes ACCESS SHARE on every table it will copy, right after the snapshot,
// and holds it until the extract ends (the coordinator, for a sharded run):
// those commands need ACCESS EXCLUSIVE, so they wait. A lock cannot be taken
// before the snapshot exists, so a table rewritten in between is caught by
// its storage check: the file the snapshot's catalog names (pg_class via SQL,
// the snapshot's view) against the one the server uses now
// (pg_relation_filenode, read through the catalog cache, which a new lock
// refreshes). Its partitions, columns and name are checked the same way.
import { UserError, errorMessage } from '../lib/errors.ts';
import { quoteIdent, redact, releasingLocks, type PgClient } from '../lib/postgres.ts';
import { STORAGE_OF, sourceRelation, type SourceTable } from './catalog.ts';

/** pg_dump's --lock-wait-timeout: how long the snapshot waits for a lock someone else holds. */
export const DEFAULT_LOCK_WAIT_SECONDS = 30;

const LOCK_NOT_AVAILABLE = '55P03';
const UNDEFINED_TABLE = '42P01';
const BLOCKERS = 'TRUNCATE, ALTER TABLE, VACUUM FULL, CLUSTER, DROP, LOCK TABLE';

/**
 * The snapshot's transaction locks every table it will copy (partitioned
 * tables with their partitions), then checks none changed storage since the
 * snapshot. A lock held by another session is waited for at most
 * `waitSeconds`; the error names the table.
 */
export async function lockSnapshotTables(client: PgClient, tables: SourceTable[], waitSeconds: number): Promise<void> {
  await client.query(`SET lock_timeout = '${Math.round(waitSeconds * 1000)}ms'`);
  for (const table of tables) {
    try {
      await client.query(`LOCK TABLE ${sourceRelation(table)} IN ACCESS SHARE MODE`);
    } catch (err) {
      // Dropped or renamed in the instant before the lock: the lock, by name, waited for it, then found none.
      if ((err as { code?: string }).code === UNDEFINED_TABLE) throw renamed(table);
      if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw err;
      throw new UserError(`table ${table.name}: another session has held a lock that blocks reading it (${BLOCKERS}) for more than ${waitSeconds} s; let that session finish or end it (pg_locks shows its pid), or wait longer with --lock-wait-timeout, then rerun the extract`);
    }
  }
  await client.query(`SET lock_timeout = '0'`);
  await checkStorage(client, tables);
  // Once here: no worker's check is needed, as the columns cannot change while this lock is held.
  await checkColumns(client, tables);
}

/**
 * A worker's lock before it copies `table`. NOWAIT, as pg_dump's parallel
 * workers: the snapshot's lock already keeps DDL out, so a lock not granted
 * at once means a DDL session is queued behind that lock; waiting would wait
 * for that session, which waits for this extract: forever.
 */
export async function lockForCopy(client: PgClient, table: SourceTable): Promise<void> {
  try {
    await client.query(`LOCK TABLE ${sourceRelation(table)} IN ACCESS SHARE MODE NOWAIT`);
  } catch (err) {
    if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw err;
    throw new UserError(`table ${table.name}: another session is waiting to change it (${BLOCKERS}) behind this extract's lock, and reading it now would wait for that session forever; let that session finish or cancel it (pg_locks shows its pid), then rerun the extract`);
  }
  await checkName(client, table);
  await lockRowTypes(client, table);
  await checkStorage(client, [table]);
}

/**
 * Locks, as lockForCopy does `table`, the tables whose row type its columns
 * use: COPY prints such a value (and checkTypes reads its type) with that
 * table's definition, which PostgreSQL opens under ACCESS SHARE. Not held,
 * that lock would wait behind an ALTER TABLE queued on that table behind
 * the snapshot's lock, which waits for this extract: forever.
 */
async function lockRowTypes(client: PgClient, table: SourceTable): Promise<void> {
  // Named as the catalog has it now (regclass's text): a table the extract does not copy may have been renamed.
  // Only those it may read (LOCK asks SELECT, and USAGE on the schema): the snapshot locks no other, so no DDL on them waits for the extract.
  const { rows } = await client.query<{ name: string }>(
    `${USED_TYPES}
     SELECT DISTINCT c.oid, c.oid::regclass::text AS name FROM used JOIN pg_type y ON y.oid = used.t JOIN pg_class c ON c.oid = y.typrelid AND c.relkind IN ('r', 'p')
      WHERE has_table_privilege(c.oid, 'SELECT') AND has_schema_privilege(c.relnamespace, 'USAGE') ORDER BY c.oid`,
    [unsigned(table.oid)],
  );
  for (const { name } of rows) {
    try {
      await client.query(`LOCK TABLE ONLY ${name} IN ACCESS SHARE MODE NOWAIT`);
    } catch (err) {
      if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw err;
      throw new UserError(`table ${table.name}: another session is waiting to change table ${name} (${BLOCKERS}), whose row type its columns use, behind this extract's lock, and reading it now would wait for that session forever; let that session finish or cancel it (pg_locks shows its pid), then rerun the extract`);
    }
  }
}

/**
 * Fails, naming it, when `table`'s name no longer finds the snapshot's
 * table. The snapshot's locks keep a table from being renamed or moved, but
 * not its schema (ALTER SCHEMA … RENAME locks no table): two schemas swapped
 * under a held snapshot (a coordinator's, for hours) would have COPY read
 * the other schema's table, or one created since and empty to the snapshot,
 * under this table's name. Asked as COPY asks it: the table a query's parse
 * finds (its RowDescription), which reads the catalog as it is now
 * (to_regclass may read this connection's cache of it as it was).
 */
export async function checkName(client: PgClient, table: SourceTable): Promise<void> {
  let found: number | undefined;
  try {
    found = (await client.query(`SELECT tableoid FROM ${sourceRelation(table)} LIMIT 0`)).fields[0]!.tableID;
  } catch (err) {
    if ((err as { code?: string }).code !== UNDEFINED_TABLE) throw err;
  }
  if (found !== unsigned(table.oid)) throw renamed(table);
}

/** An oid as the protocol sends it: `oid::int` (SourceTable.oid, the checks' queries) is negative above 2^31. */
const unsigned = (oid: number) => oid >>> 0;

function renamed(table: SourceTable): UserError {
  return new UserError(`table ${table.name}: its name no longer finds the snapshot's table (it was dropped, or it or its schema renamed, after the extract's snapshot was taken), so COPY would read another table's rows under its name, or none; rerun the extract`);
}

/** Fails, naming them, when any of `tables` was truncated or rewritten after the snapshot: the snapshot would read it as empty. */
export async function checkStorage(client: PgClient, tables: SourceTable[]): Promise<void> {
  if (tables.length === 0) return;
  let changed: string[];
  try {
    const { rows } = await client.query<{ oid: number }>(
      `SELECT DISTINCT t.oid::int AS oid
         FROM unnest($1::oid[]) AS t(oid)
        CROSS JOIN LATERAL (${STORAGE_OF.replace(/\$1/g, 't.oid')}) r
         JOIN pg_class s ON s.oid = r.relid
        WHERE s.relkind = 'r' AND pg_relation_filenode(s.oid) IS DISTINCT FROM s.relfilenode`,
      [tables.map((t) => t.oid)],
    );
    changed = tables.filter((t) => rows.some((r) => r.oid === t.oid)).map((t) => t.name);
  } catch (err) {
    throw new Error(`cannot check the tables' storage against the snapshot: ${errorMessage(err)}`);
  }
  if (changed.length > 0) {
    throw new UserError(`table(s) ${changed.join(', ')} were truncated or rewritten (TRUNCATE, ALTER TABLE, VACUUM FULL, CLUSTER) after the extract's snapshot was taken, so the snapshot would read them as empty; rerun the extract (it locks its tables right after its snapshot, so this only happens in that instant)`);
  }
  await checkPartitions(client, tables);
}

/**
 * Fails, naming them, when a partitioned table's partitions are not those of
 * the snapshot: COPY reads a root through the partitions the server has now,
 * so a partition detached or dropped in the instant before the lock (both
 * wait for ACCESS SHARE on the root, so only then) was left out, its rows
 * silently missing, and one attached (ATTACH takes a lock ACCESS SHARE does
 * not block) was read too. The snapshot's tree is pg_inherits read through
 * SQL (the snapshot's view); the server's, pg_partition_tree (the catalog now).
 */
async function checkPartitions(client: PgClient, tables: SourceTable[]): Promise<void> {
  const roots = tables.filter((t) => t.partitioned);
  if (roots.length === 0) return;
  let changed: string[];
  try {
    const { rows } = await client.query<{ oid: number }>(
      `SELECT t.oid::int AS oid
         FROM unnest($1::oid[]) AS t(oid)
        WHERE ARRAY(SELECT relid::oid FROM pg_partition_tree(t.oid) ORDER BY 1) IS DISTINCT FROM
              ARRAY(WITH RECURSIVE tree(relid) AS (SELECT t.oid UNION ALL SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.relid)
                    SELECT relid FROM tree ORDER BY 1)`,
      [roots.map((t) => t.oid)],
    );
    changed = roots.filter((t) => rows.some((r) => r.oid === t.oid)).map((t) => t.name);
  } catch (err) {
    throw new Error(`cannot check the partitioned tables' partitions against the snapshot: ${errorMessage(err)}`);
  }
  if (changed.length > 0) {
    throw new UserError(`table(s) ${changed.join(', ')} had partitions attached, detached or dropped after the extract's snapshot was taken, so reading them now would leave out or add rows the snapshot does not hold; rerun the extract (it locks its tables right after its snapshot: a detach or drop only happens in that instant)`);
  }
}

const UNDEFINED_COLUMN = '42703';

/**
 * Fails, naming the first, when a table's columns are not the snapshot's. The
 * manifest describes the columns as the snapshot's catalog has them, but
 * COPY finds them by name in the catalog as it is now. So, in the instant
 * before the lock (RENAME, DROP and ALTER TYPE wait for ACCESS SHARE), two
 * columns renamed into each other's names would be copied into each other,
 * a column dropped and added again would be copied as NULLs, and a type
 * changed without a rewrite (timestamp to timestamptz in UTC) would be
 * copied as text the manifest does not describe, and a virtual generated
 * column would be computed with an expression the snapshot never had. The
 * snapshot's columns are pg_attribute read through SQL; the server's, what a
 * query naming them resolves each name to (its RowDescription: table, attnum
 * and type, a domain's base type as the protocol sends it).
 */
async function checkColumns(client: PgClient, tables: SourceTable[]): Promise<void> {
  if (tables.length === 0) return;
  let snapshot: { oid: number; name: string; attnum: number; type: number; new_expression: boolean }[];
  try {
    ({ rows: snapshot } = await client.query(
      `SELECT a.attrelid::int AS oid, a.attname::text AS name, a.attnum::int AS attnum,
              (WITH RECURSIVE d(t) AS (SELECT a.atttypid UNION ALL SELECT y.typbasetype FROM pg_type y JOIN d ON y.oid = d.t AND y.typtype = 'd')
               SELECT d.t FROM d JOIN pg_type y ON y.oid = d.t AND y.typtype <> 'd')::int AS type,
              -- A virtual generated column (PostgreSQL 18) is computed as read, with the expression the catalog has now:
              -- SET EXPRESSION rewrites nothing, but replaces its pg_attrdef row, which pg_describe_object (the catalog
              -- now, not the snapshot's) no longer finds.
              a.attgenerated = 'v' AND pg_describe_object('pg_attrdef'::regclass,
                (SELECT ad.oid FROM pg_attrdef ad WHERE ad.adrelid = a.attrelid AND ad.adnum = a.attnum), 0) IS NULL AS new_expression
         FROM pg_attribute a
        WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attrelid, a.attnum`,
      [tables.map((t) => t.oid)],
    ));
  } catch (err) {
    throw new Error(`cannot check the tables' columns against the snapshot: ${errorMessage(err)}`);
  }
  const byTable = new Map<number, typeof snapshot>();
  for (const column of snapshot) {
    const columns = byTable.get(column.oid);
    if (columns) columns.push(column);
    else byTable.set(column.oid, [column]);
  }
  for (const table of tables) {
    const columns = byTable.get(table.oid);
    if (!columns) continue;
    let same: boolean;
    try {
      // Planning the query locks the table's indexes, which the snapshot's transaction would hold to the end: a
      // REINDEX then waited for the extract, and the worker that reached the table waited behind the REINDEX (as did
      // every query of the table), forever. releasingLocks releases them, not the table's own lock.
      const { fields } = await releasingLocks(client, () => client.query(`SELECT ${columns.map((c) => quoteIdent(c.name)).join(', ')} FROM ${sourceRelation(table)} LIMIT 0`));
      // Another table under its name (a schema renamed before the lock, which then locked that table): say so.
      if (fields[0]!.tableID !== unsigned(table.oid)) throw renamed(table);
      same = fields.every((f, i) => f.columnID === columns[i]!.attnum && f.dataTypeID === unsigned(columns[i]!.type) && !columns[i]!.new_expression);
    } catch (err) {
      if (err instanceof UserError) throw err;
      if ((err as { code?: string }).code !== UNDEFINED_COLUMN) throw new UserError(`table ${table.name}: ${redact(errorMessage(err))}`);
      same = false;
    }
    if (!same) {
      throw new UserError(`table ${table.name} had columns renamed, dropped, added or changed in type or generation expression after the extract's snapshot was taken, so COPY would not read them as the snapshot has them; rerun the extract (it locks its tables right after its snapshot, so this only happens in that instant)`);
    }
  }
}

/**
 * The types `$1`'s columns use, as the snapshot's catalog has them: through domains, arrays, composites' attributes
 * and ranges; each with an expression of it over the table's columns (`e`), to reach it without its name.
 */
const USED_TYPES = `WITH RECURSIVE used(t, e) AS (
       SELECT a.atttypid, quote_ident(a.attname) FROM pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped
       UNION
       SELECT n.t, n.e FROM used JOIN pg_type y ON y.oid = used.t
        -- A domain's value as its base type's (enum_range takes no domain): COALESCE with a NULL resolves to the base type.
        CROSS JOIN LATERAL (SELECT y.typbasetype, 'COALESCE(' || used.e || ', NULL)' WHERE y.typtype = 'd'
                            UNION ALL SELECT y.typelem, '(' || used.e || ')[1]' WHERE y.typcategory = 'A' AND y.typelem <> 0
                            UNION ALL SELECT a.atttypid, '(' || used.e || ').' || quote_ident(a.attname) FROM pg_attribute a
                             WHERE y.typtype = 'c' AND a.attrelid = y.typrelid AND a.attnum > 0 AND NOT a.attisdropped
                            -- A range prints its bounds with its subtype's output (an enum's labels); a multirange its ranges.
                            UNION ALL SELECT r.rngsubtype, 'pg_catalog.lower(' || used.e || ')' FROM pg_range r WHERE y.typtype = 'r' AND r.rngtypid = y.oid
                            UNION ALL SELECT r.rngtypid, 'pg_catalog.range_merge(' || used.e || ')' FROM pg_range r WHERE y.typtype = 'm' AND r.rngmultitypid = y.oid) n(t, e))`;

/**
 * Fails, naming the table, when an enum or composite type its columns use
 * (through domains, arrays, ranges and other composites) changed since the
 * snapshot. ALTER TYPE locks no table, and COPY prints a value with its type
 * as the catalog has it now, at any time during the run: a label renamed
 * (RENAME VALUE) is printed under its new name, and an attribute added,
 * dropped or retyped changes every composite value's text. Asked after each
 * COPY, so a change made before it ended fails the part that may show it.
 * A label added is no change: no row of the snapshot holds it. Labels are
 * told apart by OID, which is what a value holds.
 */
export async function checkTypes(client: PgClient, table: SourceTable): Promise<void> {
  const { rows: types } = await client.query<{ oid: string; name: string; expression: string; labels: string[] | null; attributes: string[] | null }>(
    `${USED_TYPES}
     SELECT DISTINCT ON (y.oid) y.oid::text AS oid, format_type(y.oid, NULL) AS name, used.e AS expression,
            -- Each label with its OID, the label's identity (a value holds the OID, printed as the label that OID has now),
            -- hashed: the labels as they are now are reached only through values, and hashenumextended hashes a value's OID as this does.
            CASE WHEN y.typtype = 'e' THEN ARRAY(SELECT hashoidextended(e.oid, 0)::text || ' ' || e.enumlabel FROM pg_enum e WHERE e.enumtypid = y.oid) END AS labels,
            -- Each attribute's type as a RowDescription gives it (a domain's base type).
            CASE WHEN y.typtype = 'c' THEN coalesce((
              SELECT json_agg((
                       WITH RECURSIVE d(t) AS (SELECT a.atttypid UNION ALL SELECT b.typbasetype FROM pg_type b JOIN d ON b.oid = d.t AND b.typtype = 'd')
                       SELECT d.t::text FROM d JOIN pg_type b ON b.oid = d.t AND b.typtype <> 'd') ORDER BY a.attnum)
                FROM pg_attribute a WHERE a.attrelid = y.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '[]') END AS attributes
       FROM used JOIN pg_type y ON y.oid = used.t
      WHERE y.typtype IN ('e', 'c')
      ORDER BY y.oid, length(used.e)`,
    [unsigned(table.oid)],
  );
  for (const type of types) {
    // A NULL of the type, from the table's columns: its name would ask USAGE on its schema, which COPY does not.
    // ONLY: a partitioned table's partitions would each be opened to plan it, for each type.
    const value = `(SELECT (SELECT ${type.expression} FROM ${sourceRelation({ ...table, partitioned: false })} LIMIT 0) AS x) s`;
    let same: boolean;
    if (type.labels) {
      // Its labels now (enum_range reads the catalog as it is, as COPY's output does).
      // Each snapshot label's OID must still have that label: compared by label alone, 'a' renamed to 'x' and a
      // new 'a' added where it was would pass, and the snapshot's 'a' values print as 'x'. Labels added are ignored.
      const { rows: [now] } = await client.query<{ labels: string[] }>(
        `SELECT ARRAY(SELECT hashenumextended(v, 0)::text || ' ' || v::text FROM unnest(enum_range(x)) v) AS labels FROM ${value}`);
      const labels = new Set(now!.labels);
      same = type.labels.every((label) => labels.has(label));
    } else {
      const { fields } = await client.query(`SELECT (x).* FROM ${value}`);
      // Types only: a composite's text has no attribute names, so one renamed prints as before.
      same = fields.length === type.attributes!.length && fields.every((f, i) => String(f.dataTypeID) === type.attributes![i]);
    }
    if (!same) {
      throw new UserError(`table ${table.name}: type ${type.name} of its columns was changed (ALTER TYPE: a label renamed, an attribute added, dropped or retyped) after the extract's snapshot was taken, so COPY printed its values as the snapshot does not hold them; rerun the extract, and make no ALTER TYPE while it runs`);
    }
  }
}
