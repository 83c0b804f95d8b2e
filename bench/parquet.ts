// Parquet vs CSV.gz extract (issue 8): size and time of each format on the
// bench database, and transform time reading each. Not part of `make test`
// nor of `make bench`; run it on a stack:
//
//   STACK_DIR=$PWD/.local/bench-parquet node --import tsx/esm scripts/stack.ts run -- \
//     env SCALE=0.05 node --import tsx/esm bench/parquet.ts
//
// Times are the best of REPEAT (3) runs of each CLI.
//
// The Serenya database is generated once per scale (database bench_s<scale>,
// as `make bench` makes it: bench/bench-db.ts).
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readExtractManifest, type ExtractManifest } from '../lib/manifest.ts';
import { openStorage } from '../lib/storage.ts';
import { readEnvFile } from '../scripts/stack/env-file.ts';
import { REPO, ensureDatabase, stageCli, timed } from './bench-db.ts';

const WORK = path.join(REPO, '.local', 'bench-parquet-runs');
const REPEAT = Number(process.env.REPEAT || 3);

function log(message: string): void {
  process.stderr.write(`bench/parquet: ${message}\n`);
}

/** The best of `REPEAT` runs of a stage CLI: the machine is shared, so the fastest run is the least disturbed. */
async function bestOf(args: string[], env: NodeJS.ProcessEnv): Promise<{ seconds: number; rssMb: number }> {
  let best: { seconds: number; rssMb: number } | undefined;
  for (let i = 0; i < REPEAT; i++) {
    const run = await timed(process.execPath, args, env);
    if (!best || run.seconds < best.seconds) best = run;
  }
  return best!;
}

interface Result { run: string; extract_s: number; extract_rss_mb: number; csv_gz_mb: number; parquet_mb: number; row_groups: number; transform_s?: number; input?: 'csv' | 'parquet' }

const mb = (bytes: number) => Math.round(bytes / 1e4) / 100;
const sum = (m: ExtractManifest, f: (p: ExtractManifest['tables'][number]['parts'][number]) => number) =>
  m.tables.reduce((n, t) => n + t.parts.reduce((k, p) => k + f(p), 0), 0);

const stack = readEnvFile(process.env.STACK_ENV_FILE ?? path.join(REPO, '.local', 'env'));
if (!stack?.PG_ADMIN_URL) throw new Error('the local stack is not up: run through scripts/stack.ts run (see the top of this file)');
const scale = Number(process.env.SCALE || 0.05);
const concurrency = String(Math.min(4, os.cpus().length));
const url = await ensureDatabase(stack.PG_ADMIN_URL, scale, log);
await rm(WORK, { recursive: true, force: true });
await mkdir(WORK, { recursive: true });
const env = { ...process.env, ...stack, DATABASE_URL: url, TABLE: '', STORE: '', RUN: '', FORMAT: '', PARQUET_COMPRESSION: '', CONCURRENCY: concurrency };

const runs: { run: string; format: string; compression?: string; input?: 'csv' | 'parquet' }[] = [
  { run: 'csv', format: 'csv', input: 'csv' },
  { run: 'parquet-snappy', format: 'parquet', compression: 'snappy', input: 'parquet' },
  { run: 'parquet-gzip', format: 'parquet', compression: 'gzip', input: 'parquet' },
  { run: 'both-snappy', format: 'both', compression: 'snappy' },
];
const results: Result[] = [];
let facts = '';
for (const { run, format, compression, input } of runs) {
  const extract = await bestOf([stageCli('extract'), '--store', WORK, '--run', run, '--format', format, '--quiet'], { ...env, PARQUET_COMPRESSION: compression ?? '' });
  const manifest = (await readExtractManifest(openStorage(WORK).sub(run)))!;
  facts ||= `${manifest.tables.reduce((n, t) => n + t.rows, 0)} rows, ${mb(sum(manifest, (p) => p.raw_bytes))} MB of COPY CSV text`;
  const result: Result = {
    run,
    extract_s: Math.round(extract.seconds * 100) / 100,
    extract_rss_mb: Math.round(extract.rssMb),
    csv_gz_mb: mb(sum(manifest, (p) => (p.key.endsWith('.csv.gz') ? p.bytes : 0))),
    parquet_mb: mb(sum(manifest, (p) => p.parquet?.bytes ?? 0)),
    row_groups: sum(manifest, (p) => p.parquet?.row_groups ?? 0),
  };
  if (input) {
    result.input = input;
    // Transform time is context, not the figure asked for: a failing transform is reported, not fatal.
    try {
      const transform = await bestOf([stageCli('transform'), '--store', WORK, '--run', run, '--input', input, '--quiet', '--force'], env);
      result.transform_s = Math.round(transform.seconds * 100) / 100;
    } catch (err) {
      log(`transform of ${run} failed: ${String(err).split('\n')[0]}`);
    }
  }
  log(JSON.stringify(result));
  results.push(result);
}

const lines = [
  `# Parquet vs CSV.gz extract, SCALE=${scale}: ${facts}; CONCURRENCY=${concurrency}, ${os.cpus().length} cores, node ${process.version}, best of ${REPEAT}`,
  '',
  '| run | extract s | extract peak RSS MB | CSV.gz MB | Parquet MB | row groups | transform s (input) |',
  '|---|---:|---:|---:|---:|---:|---|',
  ...results.map((r) => `| ${r.run} | ${r.extract_s} | ${r.extract_rss_mb} | ${r.csv_gz_mb} | ${r.parquet_mb} | ${r.row_groups} | ${r.input ? `${r.transform_s ?? 'failed'} (${r.input})` : ''} |`),
  '',
];
process.stdout.write(lines.join('\n'));
