// `make bench-extract`: extract against the server's COPY floor and against
// the shell loops a DBA would write (issue 19, item 5). Not part of `make test`.
//
// Every side runs the very COPY statements extract runs (its parts, from its
// manifest), CONCURRENCY at a time, largest first:
//   floor       psql -c "COPY … TO STDOUT" > /dev/null        (the server's rate; psql's CPU is the floor's client CPU)
//   psql>file   psql -c "COPY … TO STDOUT" > <a file per part>  (the uncompressed extract's job)
//   psql|gzip   psql -c "COPY … TO STDOUT" | gzip -1 > /dev/null
//   psql|zstd   psql -c "COPY … TO STDOUT" | zstd -1 > /dev/null
//   ours        the extract CLI into a file:// store, with COMPRESSION=none, gzip (level 1) and zstd
// Each round runs every side back to back; ROUNDS (3) rounds, the median is
// reported. Client CPU is user+sys of the side's process tree (/usr/bin/time),
// per GB of CSV; the server's CPU is not in it. Results: bench/extract-floor-results.md.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { readExtractManifest } from '../lib/manifest.ts';
import { openStorage } from '../lib/storage.ts';
import { readEnvFile } from '../scripts/stack/env-file.ts';
import { listSourceTables, readCatalog } from '../extract/catalog.ts';
import { copySql } from '../extract/copy-table.ts';
import { REPO, ensureDatabase, stageCli, usage, type Usage } from './bench-db.ts';


const ROUNDS = Number(process.env.ROUNDS || 3);
const CONCURRENCY = Number(process.env.CONCURRENCY || 4);
const WORK = path.join(REPO, '.local', 'bench-extract');

function log(message: string): void {
  process.stderr.write(`bench-extract: ${message}\n`);
}


/** The statements, CONCURRENCY psql processes at a time (xargs -P), each piped into `sink`, into /dev/null or a new file of `dir`. */
function psqlLoop(statementsFile: string, sink: string | undefined, env: NodeJS.ProcessEnv, dir?: string): Promise<Usage> {
  const one = `psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -c "$1"${sink ? ` | ${sink}` : ''} > ${dir ? `"$(mktemp -p ${dir})"` : '/dev/null'}`;
  return usage('bash', ['-eo', 'pipefail', '-c', `xargs -0 -P ${CONCURRENCY} -n 1 bash -o pipefail -c '${one}' _ < ${statementsFile}`], env);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

const stack = readEnvFile(process.env.STACK_ENV_FILE ?? path.join(process.env.STACK_DIR ?? path.join(REPO, '.local'), 'env'));
if (!stack?.PG_ADMIN_URL) throw new Error('the local stack is not up: run `make bench-extract` (it starts it)');
const scale = Number(process.env.SCALE || 1);
const url = await ensureDatabase(stack.PG_ADMIN_URL, scale, log);
const env = { ...process.env, ...stack, DATABASE_URL: url, TABLE: '', STORE: '', RUN: '', CONCURRENCY: String(CONCURRENCY) };
await rm(WORK, { recursive: true, force: true });
await mkdir(WORK, { recursive: true });

const extract = (compression: string, round: number) => {
  const run = `${compression}-${round}`;
  return usage(process.execPath, [stageCli('extract'), '--store', WORK, '--run', run, '--quiet', '--json'], { ...env, COMPRESSION: compression });
};

// A first extract gives the parts (and warms the cache for every side alike).
log(`SCALE=${scale}, concurrency ${CONCURRENCY}, ${ROUNDS} round(s)`);
await extract('gzip', 0);
const manifest = (await readExtractManifest(openStorage(WORK).sub('gzip-0')))!;
const client = new pg.Client({ connectionString: url });
await client.connect();
const catalog = new Map((await readCatalog(client, await listSourceTables(client, manifest.options.schemas))).map((t) => [t.name, t]));
await client.end();
const parts = manifest.tables.flatMap((t) => t.parts.map((p) => ({ sql: copySql(catalog.get(t.name)!, p.range ?? {}), bytes: p.raw_bytes })));
parts.sort((a, b) => b.bytes - a.bytes);
const statements = path.join(WORK, 'statements');
await writeFile(statements, parts.map((p) => `${p.sql}\0`).join(''));
const csvGb = parts.reduce((n, p) => n + p.bytes, 0) / 1e9;
log(`${parts.length} parts, ${(csvGb * 1000).toFixed(0)} MB of CSV`);

// Uncompressed, each into its files: our overhead alone (sha256s, the manifest, checks), against psql writing the same bytes.
const psqlFiles = async () => {
  const dir = path.join(WORK, 'psql-files');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  return psqlLoop(statements, undefined, env, dir);
};
const sides: Record<string, (round: number) => Promise<Usage>> = {
  'raw COPY > /dev/null': () => psqlLoop(statements, undefined, env),
  'extract, uncompressed': (r) => extract('none', r),
  'psql > file': psqlFiles,
  'extract, gzip -1': (r) => extract('gzip', r),
  'psql | gzip -1': () => psqlLoop(statements, 'gzip -1', env),
  'extract, zstd -1': (r) => extract('zstd', r),
  'psql | zstd -1': () => psqlLoop(statements, 'zstd -1 -q', env),
};
const runs: Record<string, Usage[]> = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
const inProcess: Record<string, number[]> = { 'extract, uncompressed': [], 'extract, gzip -1': [], 'extract, zstd -1': [] };
for (let r = 1; r <= ROUNDS; r++) {
  for (const [name, side] of Object.entries(sides)) {
    const u = await side(r);
    runs[name]!.push(u);
    // The extract's own seconds, snapshot to manifest (the process's wall adds Node's and tsx's start).
    if (name in inProcess) inProcess[name]!.push((JSON.parse(u.stdout) as { seconds: number }).seconds);
    log(`round ${r}: ${name}: ${u.wall.toFixed(2)} s wall, ${u.cpu.toFixed(2)} s CPU`);
  }
  for (const compression of ['none', 'gzip', 'zstd']) await rm(path.join(WORK, `${compression}-${r}`), { recursive: true, force: true });
}

const m = (name: string) => ({ wall: median(runs[name]!.map((u) => u.wall)), cpu: median(runs[name]!.map((u) => u.cpu)), rss: median(runs[name]!.map((u) => u.rssMb)) });
const floor = m('raw COPY > /dev/null');
const lines = [
  `# make bench-extract (${new Date().toISOString()}, SCALE=${scale}, ${(csvGb * 1000).toFixed(0)} MB of CSV in ${parts.length} parts, concurrency ${CONCURRENCY}, median of ${ROUNDS})`,
  '',
  'Every side runs extract\'s own COPY statements, the same concurrency, largest first. CPU: user+sys of the client\'s process tree (not the server\'s).',
  '',
  '| side | wall s | vs raw COPY | client CPU s | CPU s per GB of CSV | peak RSS MB |',
  '|---|---:|---:|---:|---:|---:|',
  ...Object.keys(sides).map((name) => {
    const s = m(name);
    return `| ${name.replace(/\|/g, '\\|')} | ${round(s.wall)} | ${round(s.wall / floor.wall, 3)} | ${round(s.cpu)} | ${round(s.cpu / csvGb)} | ${round(s.rss, 0)} |`;
  }),
  ...Object.entries(inProcess).map(([name, seconds]) => `| ${name}, in process (snapshot to manifest) | ${round(median(seconds))} | ${round(median(seconds) / floor.wall, 3)} | | | |`),
  '',
  '```json',
  JSON.stringify({ scale, csv_gb: round(csvGb, 4), concurrency: CONCURRENCY, rounds: Object.fromEntries(Object.entries(runs).map(([k, us]) => [k, us.map((u) => ({ wall_s: round(u.wall), cpu_s: round(u.cpu) }))])), in_process_s: inProcess }, null, 2),
  '```',
  '',
];
const out = process.env.BENCH_OUT || path.join(REPO, 'bench', 'extract-floor-results.md');
await writeFile(out, lines.join('\n'));
process.stdout.write(lines.join('\n'));
