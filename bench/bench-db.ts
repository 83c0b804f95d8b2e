// What `make bench` (bench.ts) and the Parquet measurement (parquet.ts) share:
// timing a command with its CPU and peak RSS, and the generated bench database.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadFixtureDatabase } from '../fixtures/load.ts';
import { quoteIdent } from '../lib/postgres.ts';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
/** Bench scripts of our own (baselines, the DuckDB side) run from source: `node --import tsx/esm <file>.ts`. */
export const NODE = [process.execPath, '--import', 'tsx/esm'];

/**
 * A stage CLI as the Makefile and the image run it: the build's JavaScript
 * (`make bench` builds it first), not tsx, whose start-up alone cost ~1 CPU-second per process.
 */
export function stageCli(stage: string): string {
  const cli = path.join(REPO, 'dist', stage, 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` (make bench does) first`);
  return cli;
}

export interface Usage { wall: number; cpu: number; rssMb: number; stdout: string }

/** Runs a command under /usr/bin/time: wall seconds, user+sys CPU seconds of its process tree, peak RSS (MB) of its largest process. */
export function usage(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Usage> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '%U %S %M', command, ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const wall = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) return reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
      const [user, sys, rssKb] = stderr.trim().split('\n').pop()!.split(' ').map(Number);
      resolve({ wall, cpu: user! + sys!, rssMb: rssKb! / 1024, stdout });
    });
  });
}

/** `usage` as the stage timings read it: wall seconds and peak RSS (MB). */
export async function timed(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ seconds: number; rssMb: number; stdout: string }> {
  const { wall, rssMb, stdout } = await usage(command, args, env);
  return { seconds: wall, rssMb, stdout };
}

/**
 * The Serenya database at `scale` (database bench_s<scale>), generated once and
 * reused while its `bench_meta.ready` marker is there.
 */
export async function ensureDatabase(adminUrl: string, scale: number, log: (message: string) => void): Promise<string> {
  const name = `bench_s${String(scale).replace('.', '_')}`;
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount! > 0;
    if (exists) {
      const db = new pg.Client({ connectionString: url.href });
      await db.connect();
      const ready = await db.query(`SELECT 1 FROM pg_tables WHERE schemaname = 'bench_meta' AND tablename = 'ready'`).then((r) => r.rowCount! > 0, () => false);
      await db.end();
      if (ready) { log(`reusing database ${name}`); return url.href; }
      await admin.query(`DROP DATABASE ${quoteIdent(name)} WITH (FORCE)`);
    }
    await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);
  } finally {
    await admin.end();
  }
  log(`generating the Serenya database at SCALE=${scale} into ${name} (once)`);
  const started = Date.now();
  await loadFixtureDatabase(url.href, { scale });
  const db = new pg.Client({ connectionString: url.href });
  await db.connect();
  // Outside public, so extract (public only) never sees the marker.
  await db.query('CREATE SCHEMA bench_meta; CREATE TABLE bench_meta.ready ()');
  await db.end();
  log(`generated in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return url.href;
}
