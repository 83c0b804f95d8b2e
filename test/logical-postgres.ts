// PostgreSQL with wal_level=logical, for the tests that follow a run's
// replication slot (catchup, cutover): the stack's own server when it has it
// (embedded PostgreSQL 18), else (CI's PostgreSQL 15, wal_level=replica) an
// embedded server of the test file's own, so these tests never skip.
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import pg from 'pg';
import { loadFixtureDatabase } from '../fixtures/load.ts';
import { createDatabase, dropDatabase, startEmbeddedPostgres } from '../scripts/stack/postgres.ts';
import { stackPaths } from '../scripts/stack/paths.ts';
import { liveServiceGroup, stopGroup } from '../scripts/stack/process-group.ts';
import { randomName, stackEnv, stackEnvFile } from './stack.ts';

/** The admin URL of a server with logical decoding; `stop` ends the one started here (`dir`: its directory beside the stack's state). */
export async function logicalPostgres(dir: string): Promise<{ adminUrl: string; stop: () => Promise<void> }> {
  const stackAdminUrl = stackEnv().PG_ADMIN_URL!;
  const probe = new pg.Client({ connectionString: stackAdminUrl });
  await probe.connect();
  const level = (await probe.query<{ wal_level: string }>('SHOW wal_level')).rows[0]!.wal_level;
  await probe.end();
  if (level === 'logical') return { adminUrl: stackAdminUrl, stop: async () => {} };
  // Beside the stack's own state: a directory the postgres user can reach (mkdtemp's are 0700, root's).
  const root = path.join(path.dirname(stackEnvFile()), dir);
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(root, { recursive: true });
  const paths = stackPaths(root);
  const { adminUrl } = await startEmbeddedPostgres(paths);
  return {
    adminUrl,
    stop: async () => {
      const group = liveServiceGroup(paths, 'postgres');
      if (group !== undefined) await stopGroup(group, 'SIGINT');
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A fresh fixture database whose every table has REPLICA IDENTITY FULL (extract FOLLOW=1 requires it); dropped when the test ends. */
export async function followableDatabase(t: ExecutionContext, adminUrl: string, opts: { scale?: number } = {}): Promise<string> {
  const name = randomName('t_');
  const url = await createDatabase(adminUrl, name);
  t.teardown(() => dropDatabase(adminUrl, name, { waitForSessionsMs: 10_000 }));
  await loadFixtureDatabase(url, opts);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const { rows } = await db.query<{ sql: string }>(
      `SELECT format('ALTER TABLE %I.%I REPLICA IDENTITY FULL', n.nspname, c.relname) AS sql FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public' AND NOT c.relispartition`,
    );
    for (const r of rows) await db.query(r.sql);
  } finally {
    await db.end();
  }
  return url;
}
