// `make bench`: every figure beside its baseline, measured in this one run on
// the same data and machine, reported as ratios (issue 6). Not part of `make test`.
//
//   extract    ours (extract CLI, default concurrency)  vs  psql \copy … | gzip -1 per table,
//              and vs raw COPY … TO STDOUT > /dev/null (the server's limit)
//   transform  ours (transform CLI, one table at a time) vs DuckDB SQL writing the same items, checked
//              equal (bench/duckdb-same-job.ts); then the whole run vs DuckDB CSV → plain gzipped JSON lines
//   verify     ours (verify CLI, TABLE=users loaded alone) vs  a plain parallel Scan, same segments, no comparison
//   memory     peak RSS of extract, transform, verify and plan at SCALE and at 4×SCALE (BENCH_4X=0 skips 4×)
//
// The Serenya database is generated once per scale into the local stack's
// PostgreSQL (database bench_s<scale>, kept until `make down`).
import { execFileSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import * as esbuild from 'esbuild';
import { BUNDLE_OPTIONS } from '../transform/worker-bundle.ts';
import { readExtractManifest } from '../lib/manifest.ts';
import { readTransformManifest } from '../lib/transform-manifest.ts';
import { openStorage } from '../lib/storage.ts';
import { quoteIdent } from '../lib/postgres.ts';
import { readEnvFile } from '../scripts/stack/env-file.ts';
import { REPO, ensureDatabase, stageCli, timed } from './bench-db.ts';
import { benchSameJob, sameJobSummary } from './duckdb-same-job.ts';
import { checkCompression } from '../lib/compression.ts';

/** As the Makefile runs verify and plan (FLAT_HEAP): a capped V8 heap, so garbage does not grow RSS with the run. */
const FLAT_HEAP = '--max-old-space-size=128';
const OUT = path.join(REPO, 'bench');
const WORK = path.join(REPO, '.local', 'bench');
const CORES = os.cpus().length;
/**
 * Item files' compression, on both sides of both transform figures. zstd unless
 * COMPRESSION says otherwise: DuckDB's gzip writer has no level setting and
 * costs it about twice our gzip -1's CPU, which would flatter us; zstd is
 * like for like.
 */
const COMPRESSION = checkCompression(process.env.COMPRESSION || 'zstd');

interface Figure { figure: string; ours: number; baseline: number; unit: string; ratio: number; note: string }
const figures: Figure[] = [];
const rss: Record<string, number> = {};
const facts: Record<string, unknown> = { cores: CORES, node: process.version, date: new Date().toISOString() };

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

function record(figure: string, ours: number, baseline: number, unit: string, note: string): void {
  const ratio = ours / baseline;
  figures.push({ figure, ours: round(ours), baseline: round(baseline), unit, ratio: round(ratio, 3), note });
  log(`${figure}: ours ${round(ours)} ${unit}, baseline ${round(baseline)} ${unit} → ratio ${ratio.toFixed(2)} (${note})`);
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

function shell(script: string, env: NodeJS.ProcessEnv): Promise<{ seconds: number }> {
  return timed('bash', ['-eo', 'pipefail', '-c', script], env);
}



async function benchScale(adminUrl: string, scale: number, full: boolean): Promise<void> {
  const url = await ensureDatabase(adminUrl, scale, log);
  const dir = path.join(WORK, `s${scale}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const env = { ...process.env, ...stack, DATABASE_URL: url, TABLE: '', CONCURRENCY: '', STORE: '', RUN: '' };
  const extract = await timed(process.execPath, [stageCli('extract'), '--store', dir, '--run', 'ours', '--quiet'], env);
  const manifest = (await readExtractManifest(openStorage(dir).sub('ours')))!;
  const csvMb = manifest.tables.reduce((n, t) => n + t.raw_bytes, 0) / 1e6;
  const rows = manifest.tables.reduce((n, t) => n + t.rows, 0);
  facts[`scale_${scale}`] = { rows, csv_mb: round(csvMb), gzip_mb: round(manifest.tables.reduce((n, t) => n + t.bytes, 0) / 1e6) };
  log(`SCALE=${scale}: ${rows} rows, ${csvMb.toFixed(0)} MB of CSV`);

  const transform = await timed(process.execPath, [stageCli('transform'), '--store', dir, '--run', 'ours', '--quiet', '--concurrency', String(CORES), '--compression', COMPRESSION], env);
  rss[`extract_s${scale}`] = round(extract.rssMb);
  rss[`transform_s${scale}`] = round(transform.rssMb);
  const plan = await timed(process.execPath, [FLAT_HEAP, stageCli('plan'), '--store', dir, '--run', 'ours', '--quiet', '--format', 'json'], env);
  rss[`plan_s${scale}`] = round(plan.rssMb);
  facts.peak_rss_mb = rss;
  await benchVerify(dir, scale, env, full);
  if (!full) return;

  // Baselines on the same tables, same order, same server.
  const copies = manifest.tables.map((t) => ({
    name: t.name,
    sql: `(SELECT * FROM ${quoteIdent(t.schema)}.${quoteIdent(t.table)} ORDER BY ${t.order_by.map(quoteIdent).join(', ')})`,
  }));
  const shellDir = path.join(dir, 'shell');
  await mkdir(shellDir, { recursive: true });
  const psqlGzip = copies.map((c, i) => `psql "$DATABASE_URL" -X -q -c ${shellQuote(`\\copy ${c.sql} TO STDOUT CSV HEADER`)} | gzip -1 > ${shellDir}/${i}.csv.gz`).join('\n');
  const rawCopy = copies.map((c) => `psql "$DATABASE_URL" -X -q -c ${shellQuote(`COPY ${c.sql} TO STDOUT CSV HEADER`)} > /dev/null`).join('\n');
  const shellExtract = await shell(psqlGzip, env);
  const raw = await shell(rawCopy, env);
  record('extract time', extract.seconds, shellExtract.seconds, 's', 'baseline: psql \\copy | gzip -1, table by table');
  record('extract time vs raw COPY to /dev/null', extract.seconds, raw.seconds, 's', "baseline: the server's COPY rate, no compression");
  record('extract throughput', csvMb / extract.seconds, csvMb / shellExtract.seconds, 'MB/s', 'CSV MB per second; higher is better');

  // DuckDB doing our job first; the plain-JSON figure below is a lighter job, kept for comparison.
  const sameJob = await benchSameJob(dir, manifest, CORES, env, log, { compression: COMPRESSION });
  facts.same_job = sameJob.map((t) => ({ table: t.table, rows: t.rows, csv_mb: round(t.csv_mb), ours: roundUsage(t.ours), duckdb: roundUsage(t.duckdb) }));
  for (const f of sameJobSummary(sameJob, COMPRESSION)) record(f.figure, f.ours, f.baseline, f.unit, f.note);

  const duck = await duckdbTransform(dir, manifest.tables.map((t) => ({ name: t.name, files: t.parts.map((p) => path.join(dir, 'ours', p.key)) })));
  record('transform time (plain-JSON baseline)', transform.seconds, duck, 's', `baseline: DuckDB ${CORES} threads, same CSV → plain JSON lines, ${COMPRESSION} (a lighter job)`);
  record('transform throughput', csvMb / transform.seconds, csvMb / duck, 'MB/s', 'CSV MB per second; higher is better');
  record('transform rows/s', rows / transform.seconds, rows / duck, 'rows/s', 'higher is better');

}

/**
 * One table (users) loaded alone by BatchWriteItem into DynamoDB Local, then
 * verified (no access patterns) and scanned plainly with the same segments:
 * verify's time against the floor of reading the table, and its peak RSS.
 */
async function benchVerify(dir: string, scale: number, env: NodeJS.ProcessEnv, full: boolean): Promise<void> {
  const table = 'users';
  const items = (await readTransformManifest(openStorage(dir).sub('ours')))!.tables.find((t) => t.name === table)!.items_out;
  const ddbTable = `bench-${String(scale).replace('.', '_')}-${Date.now()}`;
  const load = await timed(process.execPath, [stageCli('load'), '--store', dir, '--run', 'ours', '--mode', 'batch', '--table', table,
    '--ddb-table', ddbTable, '--no-deletion-protection', '--no-pitr', '--no-ttl', '--quiet'], env);
  if (full) {
    // For reference only (no baseline): BatchWriteItem into the stack's DynamoDB Local.
    facts.batch_load = { table, items, seconds: round(load.seconds), items_per_second: Math.round(items / load.seconds) };
    log(`batch load of ${table} into DynamoDB Local: ${items} items in ${load.seconds.toFixed(1)} s (${Math.round(items / load.seconds)} items/s)`);
  }
  const segments = '4';
  const scan = await timed(process.execPath, [await plainScanScript(), ddbTable, segments], env);
  // Runs of 8k records: the sort spills to disk and merges at both scales, as it would at a terabyte.
  const verify = await timed(process.execPath, [FLAT_HEAP, stageCli('verify'), '--store', dir, '--run', 'ours', '--table', table, '--ddb-table', ddbTable,
    '--no-access-patterns', '--concurrency', segments, '--quiet'], { ...env, PG2DDB_SORT_RECORDS: '8192' });
  if (!(JSON.parse(verify.stdout) as { ok: boolean }).ok) throw new Error(`verify of ${ddbTable} failed: ${verify.stdout.slice(0, 2000)}`);
  rss[`verify_s${scale}`] = round(verify.rssMb);
  facts[`verify_s${scale}`] = { table, items, verify_seconds: round(verify.seconds), plain_scan_seconds: round(scan.seconds), plain_scan_items: Number(scan.stdout.trim()) };
  record(`verify time vs plain parallel Scan, ${full ? 'SCALE' : '4×SCALE'}`, verify.seconds, scan.seconds, 's', `baseline: the same ${segments}-segment Scan of ${items} ${table} items, no comparison`);
}

/**
 * bench/plain-scan.ts bundled to JavaScript, as verify runs from the build: run through
 * tsx, the baseline would pay its start-up (~1 CPU-second) and flatter verify.
 */
async function plainScanScript(): Promise<string> {
  const out = path.join(WORK, 'plain-scan.mjs');
  // Bundled as the build bundles the stages.
  await esbuild.build({ ...BUNDLE_OPTIONS, splitting: false, entryPoints: [path.join(REPO, 'bench', 'plain-scan.ts')], outfile: out });
  return out;
}

const roundUsage = (u: { wall: number; cpu: number; rssMb: number }) => ({ wall_s: round(u.wall), cpu_s: round(u.cpu), rss_mb: round(u.rssMb) });

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

async function duckdbTransform(dir: string, tables: { name: string; files: string[] }[]): Promise<number> {
  const out = path.join(dir, 'duckdb');
  await mkdir(out, { recursive: true });
  const instance = await DuckDBInstance.create(':memory:', { threads: String(CORES) });
  const connection = await instance.connect();
  const started = process.hrtime.bigint();
  for (const [i, table] of tables.entries()) {
    const files = `[${table.files.map((f) => `'${f}'`).join(', ')}]`;
    await connection.run(`COPY (SELECT * FROM read_csv(${files}, header = true)) TO '${out}/${i}.json' (FORMAT json, COMPRESSION ${COMPRESSION === 'none' ? 'uncompressed' : COMPRESSION})`);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  connection.closeSync();
  return seconds;
}

function markdown(): string {
  const lines = [
    `# make bench (${facts.date}, ${CORES} cores, node ${facts.node})`,
    '',
    '| figure | ours | baseline | unit | ratio | baseline is |',
    '|---|---:|---:|---|---:|---|',
    ...figures.map((f) => `| ${f.figure} | ${f.ours} | ${f.baseline} | ${f.unit} | ${f.ratio} | ${f.note} |`),
    '',
    `verify: the users table loaded alone into DynamoDB Local, verified with sort runs of 8k records (both sides spill to disk and merge at either scale) against a plain Scan of the same 4 segments in a process of its own. verify and plan run with ${FLAT_HEAP}, as the Makefile runs them.`,
    '',
    '```json',
    JSON.stringify(Object.fromEntries(Object.entries(facts).filter(([k]) => k.startsWith('scale_') || k.startsWith('verify_') || k === 'peak_rss_mb' || k === 'batch_load' || k === 'same_job')), null, 2),
    '```',
    '',
  ];
  return lines.join('\n');
}

const stack = readEnvFile(process.env.STACK_ENV_FILE ?? path.join(REPO, '.local', 'env'));
if (!stack?.PG_ADMIN_URL) throw new Error('the local stack is not up: run `make bench` (it starts it)');
try {
  execFileSync('psql', ['--version'], { stdio: 'ignore' });
} catch {
  throw new Error('psql is needed for the shell baselines (apt-get install postgresql-client)');
}
const scale = Number(process.env.SCALE || 1);
await mkdir(WORK, { recursive: true });
await benchScale(stack.PG_ADMIN_URL, scale, true);
if (process.env.BENCH_4X !== '0') {
  await benchScale(stack.PG_ADMIN_URL, scale * 4, false);
  // Bounded memory means the ratio stays near 1 while the data grows 4×.
  record('peak RSS extract, 4×SCALE vs SCALE', rss[`extract_s${scale * 4}`]!, rss[`extract_s${scale}`]!, 'MB', 'baseline: the same at SCALE');
  record('peak RSS transform, 4×SCALE vs SCALE', rss[`transform_s${scale * 4}`]!, rss[`transform_s${scale}`]!, 'MB', 'baseline: the same at SCALE');
  record('peak RSS verify, 4×SCALE vs SCALE', rss[`verify_s${scale * 4}`]!, rss[`verify_s${scale}`]!, 'MB', 'baseline: the same at SCALE (users loaded alone, 4× the items)');
  record('peak RSS plan, 4×SCALE vs SCALE', rss[`plan_s${scale * 4}`]!, rss[`plan_s${scale}`]!, 'MB', 'baseline: the same at SCALE (every item read)');
}
await writeFile(path.join(OUT, 'results.json'), `${JSON.stringify({ ...facts, figures }, null, 2)}\n`);
await writeFile(path.join(OUT, 'results.md'), markdown());
process.stdout.write(markdown());
