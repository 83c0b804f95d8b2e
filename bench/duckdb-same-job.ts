// DuckDB doing *our* job (issue 19): SQL that turns the same extract CSV into
// the same DynamoDB JSON items as transform (keys, GSI keys, typed `data` map
// without NULLs, canonical timestamps, ttl), for the four largest tables.
// Before a time counts, the bench checks that both sides wrote the same item
// set (the sorted lines hash alike). Each side runs in its own process under
// /usr/bin/time, so wall, CPU (user+sys) and peak RSS are that side's alone;
// runs are interleaved and each figure is the median of REPEAT (3).
//
// The SQL covers what these tables hold: flat json objects of scalars, keys
// without padding, no infinities. Anything else fails the equality check (or
// the SQL) rather than counting.
//
// Run by bench.ts, or alone on a stack (extract and transform the bench
// database at SCALE, then the comparison):
//
//   STACK_DIR=$PWD/.local/bench-same-job node --import tsx/esm scripts/stack.ts run -- \
//     env SCALE=0.1 node --import tsx/esm bench/duckdb-same-job.ts
//
// COMPRESSION=gzip|zstd|none sets both sides' output compression;
// SAME_JOB_RESULTS=bench/same-job-results.md appends the table there (the committed runs).
//
// The DuckDB side is bench/duckdb-child.mjs; ours is the build's dist/transform/cli.js.
import { spawn } from 'node:child_process';
import { appendFile, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readExtractManifest, type ColumnSchema, type ExtractManifest, type TableEntry } from '../lib/manifest.ts';
import { checkCompression, compressionOf, compressionSuffix, type Compression } from '../lib/compression.ts';
import { readTransformManifest } from '../lib/transform-manifest.ts';
import { openStorage } from '../lib/storage.ts';
import { readEnvFile } from '../scripts/stack/env-file.ts';
import type { Mapper } from '../model/entity.ts';
import { loadMappers } from '../model/registry.ts';
import { INDEXES, PRIMARY_KEY } from '../model/table.ts';
import { REPO, ensureDatabase, stageCli, timed, usage, type Usage } from './bench-db.ts';

export const SAME_JOB_TABLES = ['processing_jobs', 'processing_job_events', 'audit_events', 'chat_messages'];

/** A side's figures, its output left out. */
type Figures = Omit<Usage, 'stdout'>;
export interface SameJobTable { table: string; rows: number; csv_mb: number; ours: Figures; duckdb: Figures }


const sql = (text: string) => `'${text.replace(/'/g, "''")}'`;
const json = (text: string) => sql(JSON.stringify(text));

/** A column's attribute value as SQL text (NULL when the column is NULL), as model/decode types it. */
function attributeSql(c: ColumnSchema, col: string): string {
  const type = (c.base_type ?? c.type).replace(/\(.*\)$/, '');
  if (['smallint', 'integer', 'bigint'].includes(type)) return `'{"N":"' || ${col} || '"}'`;
  if (type === 'boolean') return `CASE ${col} WHEN 't' THEN '{"BOOL":true}' WHEN 'f' THEN '{"BOOL":false}' END`;
  if (type === 'json' || type === 'jsonb') {
    // A flat object: each member typed by its JSON type.
    return `'{"M":{' || array_to_string(list_transform(map_entries(json_transform(${col}, '"MAP(VARCHAR, JSON)"')), e -> to_json(e.key) || ':' ||
      CASE json_type(e.value) WHEN 'VARCHAR' THEN '{"S":' || e.value::VARCHAR || '}' WHEN 'BOOLEAN' THEN '{"BOOL":' || e.value::VARCHAR || '}'
        WHEN 'NULL' THEN '{"NULL":true}' WHEN 'OBJECT' THEN error('nested json') WHEN 'ARRAY' THEN error('json array')
        ELSE '{"N":"' || e.value::VARCHAR || '"}' END), ',') || '}}'`;
  }
  // Text-like types and canonical timestamps (already rewritten in the source query) stay S.
  if (type === 'timestamp with time zone' || type === 'date' || ['S', 'E', 'U', 'I'].includes(c.category)) return `'{"S":' || to_json(${col}) || '}'`;
  throw new Error(`the same-job SQL does not cover ${c.name}'s type ${c.type}`);
}

/** `USER#{user_id}` as SQL: NULL when a part is NULL or empty (the PK is then a reject, a GSI key absent). */
function keySql(template: string, value: (name: string) => string): string {
  const parts: string[] = [];
  const names: string[] = [];
  let last = 0;
  for (const m of template.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) {
    if (m.index > last) parts.push(sql(template.slice(last, m.index)));
    parts.push(value(m[1]!));
    names.push(value(m[1]!));
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(sql(template.slice(last)));
  return `CASE WHEN ${names.map((n) => `coalesce(${n}, '') = ''`).join(' OR ')} THEN NULL ELSE ${parts.join(' || ')} END`;
}

/** The SQL that writes `table`'s items to `out` (compressed as ours are), reading its extract parts and those of joined tables. */
export function sameJobSql(extract: ExtractManifest, mapper: Mapper, dir: string, name: string, out: string, compression: Compression = 'gzip'): string {
  const table = extract.tables.find((t) => t.name === name)!;
  const read = (t: TableEntry) =>
    `read_csv([${t.parts.map((p) => sql(path.join(dir, p.key))).join(', ')}], header = true, all_varchar = true, allow_quoted_nulls = false, delim = ',', quote = '"', escape = '"')`;
  const isTs = (c: ColumnSchema) => (c.base_type ?? c.type) === 'timestamp with time zone';
  // Timestamps become canonical once, in the source query: keys, data and created_at all use that text.
  const canonical = (col: string) =>
    `substr(${col}, 1, 10) || 'T' || substr(${col}, 12, 8) || '.' || CASE WHEN substr(${col}, 20, 1) = '.' THEN rpad(substr(${col}, 21, length(${col}) - 23), 6, '0') ELSE '000000' END || 'Z'`;
  const q = (n: string) => `"${n.replace(/"/g, '""')}"`;
  const selects = table.columns.map((c) => (isTs(c) ? `${canonical(q(c.name))} AS ${q(c.name)}` : q(c.name)));
  const extra: string[] = [];
  let from = `(SELECT ${selects.join(', ')} FROM ${read(table)}) s`;
  for (const [joinName, join] of Object.entries(mapper.joins ?? {})) {
    const other = extract.tables.find((t) => t.name === join.table)!;
    from += ` LEFT JOIN (SELECT ${q(join.match)} AS m, ${q(join.take)} AS v FROM ${read(other)}) ${q(`j_${joinName}`)} ON ${q(`j_${joinName}`)}.m = s.${q(join.on)}`;
    extra.push(`${q(`j_${joinName}`)}.v AS ${q(`join_${joinName}`)}`);
  }
  const computed: Record<string, string> = {
    // model/computed.ts's orElse and yearMonth, as audit_events uses them.
    audit_user: `CASE WHEN coalesce(s.user_id_hash, '') = '' THEN 'ANONYMOUS' ELSE s.user_id_hash END`,
    event_month: `CASE WHEN regexp_matches(s.event_timestamp, '^\\d{4}-\\d\\d') THEN substr(s.event_timestamp, 1, 7) END`,
  };
  const value = (n: string) => (mapper.joins?.[n] ? q(`join_${n}`) : mapper.computed?.[n] ? computed[n] ?? (() => { throw new Error(`computed ${n}`); })() : `s.${q(n)}`);
  const keys: string[] = [];
  const pairs = [[PRIMARY_KEY.partition, PRIMARY_KEY.sort, mapper.key] as const, ...INDEXES.map((i) => [i.partition, i.sort, mapper.indexes?.[i.name]] as const)];
  for (const [pk, sk, t] of pairs) if (t) keys.push(`${keySql(t.pk, value)} AS ${pk}`, `${keySql(t.sk, value)} AS ${sk}`);
  const members = table.columns.map((c) => `${json(c.name)} || ':' || ${attributeSql(c, `s.${q(c.name)}`)}`);
  const keyMember = (pk: string, sk: string) => `CASE WHEN ${pk} IS NOT NULL AND ${sk} IS NOT NULL THEN '"${pk}":{"S":' || to_json(${pk}) || '},"${sk}":{"S":' || to_json(${sk}) || '}' END`;
  const has = (n: string) => table.columns.some((c) => c.name === n);
  const stamp = (attribute: string, column: string | undefined) => (column && has(column) ? [`'"${attribute}":{"S":' || to_json(s.${q(column)}) || '}'`] : []);
  const ttlColumn = mapper.ttl && table.columns.find((c) => c.name === mapper.ttl)!;
  const ttl = ttlColumn
    ? [`'"ttl":{"N":"' || epoch(TRY_CAST(${isTs(ttlColumn) ? `substr(s.${q(ttlColumn.name)}, 1, 19)` : `s.${q(ttlColumn.name)}`} AS TIMESTAMP))::BIGINT || '"}'`]
    : [];
  const parts = [
    ...pairs.filter(([, , t]) => t).map(([pk, sk]) => keyMember(pk, sk)),
    `'"entity_type":{"S":' || ${json(mapper.entityType)} || '}'`,
    `'"data":{"M":{' || concat_ws(',', ${members.join(', ')}) || '}}'`,
    ...stamp('created_at', mapper.createdAt ?? 'created_at'),
    ...stamp('updated_at', mapper.updatedAt ?? 'updated_at'),
    ...ttl,
  ];
  return `COPY (
  SELECT '{"Item":{' || concat_ws(',', ${parts.join(',\n    ')}) || '}}' AS line
  FROM (SELECT s.*, ${[...extra, ...keys].join(', ')} FROM ${from}) s
  WHERE PK IS NOT NULL AND SK IS NOT NULL
) TO ${sql(out)} (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\x01', COMPRESSION ${compression === 'none' ? 'uncompressed' : compression})`;
}

/** Line count and sha256 of the sorted lines of compressed files (sort spills to disk: bounded memory). */
async function sortedDigest(files: string[]): Promise<string> {
  const cat = { gzip: 'gzip -dc', zstd: 'zstd -dcq', none: 'cat' }[compressionOf(files[0]!)];
  const script = `${cat} ${files.map((f) => `'${f}'`).join(' ')} | LC_ALL=C sort -S 256M | tee >(wc -l >&2) | sha256sum`;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-eo', 'pipefail', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve(`${err.trim()} lines, sha256 ${out.split(' ')[0]}`) : reject(new Error(`${script}: ${err}`))));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Ours (transform CLI, one table, `--force`, `threads` workers) against
 * DuckDB's SQL (same threads), interleaved, `repeat` times per table; the
 * median of each figure. The run `ours` under `dir` must hold a done extract
 * and transform.
 */
export async function benchSameJob(
  dir: string, extract: ExtractManifest, threads: number, env: NodeJS.ProcessEnv, log: (m: string) => void,
  { repeat = 3, compression = 'gzip' }: { repeat?: number; compression?: Compression } = {},
): Promise<SameJobTable[]> {
  const run = path.join(dir, 'ours');
  const runs = new Map<string, { ours: Usage[]; duckdb: Usage[] }>();
  const mappers = await loadMappers();
  for (let i = 0; i < repeat; i++) {
    for (const name of SAME_JOB_TABLES) {
      const out = path.join(dir, `duckdb-${name}.json${compressionSuffix(compression)}`);
      const sqlFile = path.join(dir, `duckdb-${name}.sql`);
      await writeFile(sqlFile, sameJobSql(extract, mappers.get(name)!.mapper, run, name, out, compression));
      const ours = await usage(process.execPath, [stageCli('transform'), '--store', dir, '--run', 'ours', '--table', name, '--force', '--quiet', '--concurrency', String(threads), '--compression', compression], env);
      await rm(out, { force: true });
      const duckdb = await usage(process.execPath, [path.join(REPO, 'bench', 'duckdb-child.mjs'), sqlFile, String(threads)], env);
      if (i === 0) {
        // Same item set, or the time does not count.
        const items = (await readTransformManifest(openStorage(dir).sub('ours')))!.tables.find((t) => t.name === name)!.parts.map((p) => path.join(run, p.key));
        const [a, b] = await Promise.all([sortedDigest(items), sortedDigest([out])]);
        if (a !== b) throw new Error(`DuckDB's items for ${name} differ from ours: ours ${a}, DuckDB ${b} (see ${out})`);
        log(`same job ${name}: DuckDB writes our item set (${a})`);
      }
      const r = runs.get(name) ?? { ours: [], duckdb: [] };
      r.ours.push(ours);
      r.duckdb.push(duckdb);
      runs.set(name, r);
      log(`same job ${name} #${i + 1}: ours ${ours.wall.toFixed(2)} s wall ${ours.cpu.toFixed(2)} s CPU ${ours.rssMb.toFixed(0)} MB, DuckDB ${duckdb.wall.toFixed(2)} s wall ${duckdb.cpu.toFixed(2)} s CPU ${duckdb.rssMb.toFixed(0)} MB`);
    }
  }
  const med = (us: Usage[]): Figures => ({ wall: median(us.map((u) => u.wall)), cpu: median(us.map((u) => u.cpu)), rssMb: median(us.map((u) => u.rssMb)) });
  return SAME_JOB_TABLES.map((name) => {
    const t = extract.tables.find((x) => x.name === name)!;
    return { table: name, rows: t.rows, csv_mb: t.raw_bytes / 1e6, ours: med(runs.get(name)!.ours), duckdb: med(runs.get(name)!.duckdb) };
  });
}

/** The figures' lines: the four tables together, ours over DuckDB. */
export function sameJobSummary(tables: SameJobTable[], compression: Compression = 'gzip'): { figure: string; ours: number; baseline: number; unit: string; note: string }[] {
  const sum = (f: (t: SameJobTable) => number) => tables.reduce((n, t) => n + f(t), 0);
  const note = `baseline: DuckDB SQL writing our items (${tables.map((t) => t.table).join(', ')}), same threads, ${compression}; median of 3`;
  return [
    { figure: 'transform same job: wall', ours: sum((t) => t.ours.wall), baseline: sum((t) => t.duckdb.wall), unit: 's', note },
    { figure: 'transform same job: CPU (user+sys)', ours: sum((t) => t.ours.cpu), baseline: sum((t) => t.duckdb.cpu), unit: 's', note },
    { figure: 'transform same job: peak RSS (largest table)', ours: Math.max(...tables.map((t) => t.ours.rssMb)), baseline: Math.max(...tables.map((t) => t.duckdb.rssMb)), unit: 'MB', note },
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const log = (m: string) => process.stderr.write(`bench/same-job: ${m}\n`);
  const stack = readEnvFile(process.env.STACK_ENV_FILE ?? path.join(REPO, '.local', 'env'));
  if (!stack?.PG_ADMIN_URL) throw new Error('the local stack is not up: run through scripts/stack.ts run (see the top of this file)');
  const scale = Number(process.env.SCALE || 0.1);
  const threads = os.cpus().length;
  const url = await ensureDatabase(stack.PG_ADMIN_URL, scale, log);
  const dir = path.join(REPO, '.local', 'bench-same-job', `s${scale}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const env = { ...process.env, ...stack, DATABASE_URL: url, TABLE: '', CONCURRENCY: '', STORE: '', RUN: '' };
  await timed(process.execPath, [stageCli('extract'), '--store', dir, '--run', 'ours', '--quiet'], env);
  const compression = checkCompression(process.env.COMPRESSION);
  await timed(process.execPath, [stageCli('transform'), '--store', dir, '--run', 'ours', '--quiet', '--concurrency', String(threads), '--compression', compression], env);
  const extract = (await readExtractManifest(openStorage(dir).sub('ours')))!;
  const tables = await benchSameJob(dir, extract, threads, env, log, { repeat: Number(process.env.REPEAT || 3), compression });
  const r = (n: number) => Math.round(n * 100) / 100;
  for (const t of tables) {
    log(`${t.table} (${t.rows} rows, ${r(t.csv_mb)} MB CSV): wall ${r(t.ours.wall / t.duckdb.wall)}×, CPU ${r(t.ours.cpu / t.duckdb.cpu)}×, RSS ${r(t.ours.rssMb)} / ${r(t.duckdb.rssMb)} MB`);
  }
  const lines = [
    `## SCALE=${scale}, COMPRESSION=${compression} (${new Date().toISOString()}, ${threads} cores, node ${process.version}, median of ${process.env.REPEAT || 3})`,
    '',
    '| table | rows | CSV MB | wall ours / DuckDB | CPU ours / DuckDB | peak RSS MB ours / DuckDB |',
    '|---|---:|---:|---|---|---|',
    ...tables.map((t) => `| ${t.table} | ${t.rows} | ${r(t.csv_mb)} | ${r(t.ours.wall)} / ${r(t.duckdb.wall)} s = ${r(t.ours.wall / t.duckdb.wall)} | ${r(t.ours.cpu)} / ${r(t.duckdb.cpu)} s = ${r(t.ours.cpu / t.duckdb.cpu)} | ${r(t.ours.rssMb)} / ${r(t.duckdb.rssMb)} |`),
    ...sameJobSummary(tables, compression).map((f) => `| **${f.figure.replace('transform same job: ', '')}** | | | ${r(f.ours)} / ${r(f.baseline)} ${f.unit} = **${r(f.ours / f.baseline)}** | | |`),
    '',
  ];
  process.stdout.write(lines.join('\n'));
  // Appended: each run (one per compression) is a section of its own.
  if (process.env.SAME_JOB_RESULTS) await appendFile(process.env.SAME_JOB_RESULTS, `${lines.join('\n')}\n`);
}
