// Live cutover (issue 17): a writer inserts, updates, deletes and changes item
// keys on several tables all through extract FOLLOW=1, transform, load and
// catchup; then it stops and cutover must say GO: a fresh run of the frozen
// source equals the table, 0 differing, 0 stray. Again with catchup SIGKILLed
// between batches and rerun. Logical decoding needs wal_level=logical: when
// the stack's server lacks it (CI's PostgreSQL 15), an embedded PostgreSQL of
// its own serves these tests (test/logical-postgres.ts), so they never skip.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import test from 'ava';
import pg from 'pg';
import { followNames } from '../lib/follow-names.ts';
import { publicationState } from '../lib/publication-state.ts';
import { Slot } from '../catchup/slot.ts';
import { createDatabase, dropDatabase } from '../scripts/stack/postgres.ts';
import { openStorage } from '../lib/storage.ts';
import { REPO, runCli, cliArgv } from './cli.ts';
import { followableDatabase, logicalPostgres } from './logical-postgres.ts';
import { freshBucketPrefix, freshDynamoTable, randomName } from './stack.ts';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { ScanCommand } from '@aws-sdk/client-dynamodb';

let adminUrl: string;
let stopServer: (() => Promise<void>) | undefined;

test.before(async () => {
  ({ adminUrl, stop: stopServer } = await logicalPostgres('catchup-pg'));
});

test.after.always(async () => { await stopServer?.(); });

/** One writer transaction after another until stopped: every kind of change the mappers must follow. */
function startWriter(url: string): { stop: () => Promise<number> } {
  const client = new pg.Client({ connectionString: url });
  let running = true;
  let n = 0;
  const statements = [
    // A new user (and, through the same transaction, a consent for them).
    (i: number) => `WITH u AS (INSERT INTO users (external_id, auth_provider, email, name, created_at, updated_at)
       SELECT 'w${i}', auth_provider, 'w${i}@example.test', 'Writer ${i}', now(), now() FROM users LIMIT 1 RETURNING id)
       INSERT INTO consent_records (user_id, consent_type, consent_given, consent_version, created_at) SELECT id, 'privacy_policy', true, 'v1', now() FROM u`,
    () => `UPDATE users SET name = name || '!', updated_at = now() WHERE id = (SELECT id FROM users ORDER BY random() LIMIT 1)`,
    // The sort key PAYMENT#{created_at}#{id} changes: delete the old item, put the new.
    () => `UPDATE payments SET created_at = created_at + interval '1 second' WHERE id = (SELECT id FROM payments ORDER BY random() LIMIT 1)`,
    () => `DELETE FROM chat_messages WHERE id = (SELECT id FROM chat_messages ORDER BY random() LIMIT 1)`,
    // A job and its event in one transaction (the event's key joins the job), with a ttl. Not one already
    // past: DynamoDB Local's TTL sweeper deleting it between verify's Scan and its BatchGet fails verify's
    // count check (the item is counted present and expired), a race in verify, not in catchup.
    (i: number) => `WITH j AS (INSERT INTO processing_jobs (job_id, user_id, original_filename, sanitized_filename, file_type, file_size, s3_bucket, s3_key, status, uploaded_at, created_at, ttl_expires_at)
       SELECT 'wjob-${i}', user_id, 'f.pdf', 'f.pdf', file_type, 1, 'b', 'k${i}', status, now(), now(), now() + interval '1 day' FROM processing_jobs LIMIT 1 RETURNING id)
       INSERT INTO processing_job_events (job_id, event_type, event_status, user_id_hash, created_at) SELECT id, 'upload', 'ok', 'h${i}', now() FROM j`,
    // A device moves to another user: its biometric registrations' keys (joined) move too.
    () => `UPDATE user_devices SET user_id = (SELECT id FROM users ORDER BY random() LIMIT 1), updated_at = now()
       WHERE id = (SELECT device_id FROM biometric_registrations ORDER BY random() LIMIT 1)`,
    // An empty key part (no GSI2 entry) and back.
    () => `UPDATE users SET external_id = CASE WHEN external_id = '' THEN 'back' || id ELSE '' END WHERE id = (SELECT id FROM users ORDER BY random() LIMIT 1)`,
    // A NULL key part (AUDIT_USER#ANONYMOUS) and back: the item key moves, and the generated ttl column with it.
    () => `UPDATE audit_events SET user_id_hash = CASE WHEN user_id_hash IS NULL THEN md5(id::text) ELSE NULL END,
       retention_period_years = 1 + retention_period_years % 10 WHERE id = (SELECT id FROM audit_events ORDER BY random() LIMIT 1)`,
    // An empty joined key part: the job and its events become rejects (old items deleted), then come back.
    () => `UPDATE processing_jobs SET job_id = CASE WHEN job_id = '' THEN 'back-' || id ELSE '' END
       WHERE id = (SELECT id FROM processing_jobs ORDER BY job_id = '' DESC, random() LIMIT 1)`,
    // An oversize value: the item becomes a reject (its old item deleted), then fits again.
    () => `UPDATE processing_jobs SET error_message = CASE WHEN error_message IS NULL OR length(error_message) < 1000 THEN repeat(md5(id::text), 15000) ELSE NULL END
       WHERE id = (SELECT id FROM processing_jobs ORDER BY random() LIMIT 1)`,
    () => `UPDATE processing_jobs SET progress_percentage = (random() * 100)::int, updated_at = now() WHERE id = (SELECT id FROM processing_jobs ORDER BY random() LIMIT 1)`,
    // A user and everything of theirs (cascades through jobs → events, devices → biometrics).
    // (One in three rounds, and never a subscriber: verify's access patterns need some left to sample.)
    (i: number) => (i % 30 === 9 ? `DELETE FROM users WHERE id = (SELECT id FROM users u WHERE NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = u.id) ORDER BY random() LIMIT 1)` : 'SELECT 1'),
  ];
  const done = (async () => {
    await client.connect();
    while (running) {
      const statement = statements[n % statements.length]!(n);
      n++;
      // A statement the data refuses (a unique key taken) changes nothing: the writer goes on.
      await client.query(statement).catch(() => {});
      await new Promise((r) => setTimeout(r, 15));
    }
    await client.end();
  })();
  return { stop: async () => { running = false; await done; return n; } };
}

async function liveRun(t: import('ava').ExecutionContext) {
  const url = await followableDatabase(t, adminUrl);
  const run = randomName('live-');
  const env = { DATABASE_URL: url, STORE: freshBucketPrefix(), RUN: run, DDB_TABLE: randomName('live-'), MODE: 'batch', CI: 'true' };
  t.teardown(async () => {
    // Drop the slot, whatever the test did: a slot left behind keeps WAL forever.
    await runCli('catchup/cli.ts', ['--drop-slot'], env);
  });
  return { url, run, env };
}

async function pipeline(t: import('ava').ExecutionContext, env: Record<string, string>) {
  for (const [script, args] of [['extract/cli.ts', ['--follow']], ['transform/cli.ts', []], ['load/cli.ts', []]] as const) {
    const r = await runCli(script, [...args], env);
    t.is(r.code, 0, `${script}: ${r.stderr}`);
  }
}

test.serial('cutover says GO after a writer changed every table kind through extract, transform, load and catchup', async (t) => {
  const { url, env } = await liveRun(t);
  const writer = startWriter(url);
  await pipeline(t, env);
  const first = await runCli('catchup/cli.ts', [], env);
  t.is(first.code, 0, first.stderr);
  const caught = JSON.parse(first.stdout) as { transactions: number; writes: { puts: number; deletes: number }; rejected: number };
  t.true(caught.transactions > 0 && caught.writes.deletes > 0, first.stdout);
  // The oversize rows are rejects, written as transform writes them, with the change's commit LSN.
  t.true(caught.rejected > 0, first.stdout);
  const store = openStorage(env.STORE).sub(env.RUN);
  const files = await store.list('catchup/rejects');
  const rejects = (await Promise.all(files.map((f) => store.getText(f.key)))).join('').trim().split('\n').map((l) => JSON.parse(l) as { table: string; reason: string; lsn: string });
  t.true(rejects.some((r) => r.table === 'processing_jobs' && /over the 400 KB limit/.test(r.reason) && /^[0-9A-F]+\/[0-9A-F]+$/.test(r.lsn)), JSON.stringify(rejects.slice(0, 3)));
  // make status asks the source for the WAL the slot keeps.
  const status = await runCli('plan/run-status-cli.ts', ['--json'], env);
  const follow = (JSON.parse(status.stdout) as { follow: { exists: boolean; retained_bytes: number } }).follow;
  t.true(follow.exists && follow.retained_bytes > 0, status.stdout);
  const written = await writer.stop();
  t.true(written > 20, `the writer made ${written} changes`);
  const cutover = await runCli('catchup/cutover-cli.ts', ['--writers-stopped', '--json'], env);
  const result = JSON.parse(cutover.stdout) as { go: boolean; differing: number; stray: number; missing: number; compared: number };
  t.true(result.go, cutover.stderr);
  t.is(result.differing, 0);
  t.is(result.stray, 0);
  t.is(result.missing, 0);
  t.true(result.compared > 250);
  t.is(cutover.code, 0);
  // The slot is gone after --drop-slot, and the source keeps no WAL for it.
  const dropped = await runCli('catchup/cli.ts', ['--drop-slot', '--json'], env);
  t.true((JSON.parse(dropped.stdout) as { dropped: boolean }).dropped);
  const after = await runCli('plan/run-status-cli.ts', ['--json'], env);
  t.false((JSON.parse(after.stdout) as { follow: { exists: boolean } }).follow.exists);
});

test.serial('a catchup SIGKILLed in the middle of its batches and rerun leaves the table as an uninterrupted run would', async (t) => {
  const { url, env } = await liveRun(t);
  const writer = startWriter(url);
  await pipeline(t, env);
  await new Promise((r) => setTimeout(r, 1000));
  await writer.stop();
  // Small batches, killed as soon as the first one is confirmed: the rest must be read again.
  const killed = await new Promise<{ signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, cliArgv('catchup/cli.ts', ['--batch', '20']), { cwd: REPO, env: { ...process.env, TABLE: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
      if (/applied .* transaction/.test(stderr)) child.kill('SIGKILL');
    });
    child.on('close', (_code, signal) => resolve({ signal, stderr }));
  });
  t.is(killed.signal, 'SIGKILL', killed.stderr);
  const rerun = await runCli('catchup/cli.ts', ['--until-lag', '0'], env);
  t.is(rerun.code, 0, rerun.stderr);
  t.true((JSON.parse(rerun.stdout) as { transactions: number }).transactions > 0);
  // A cutover stopped by SIGTERM while its fresh extract runs: it says so, and the extract it started stops too (no orphan writing on).
  const stopped = randomName('stopped-');
  const term = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, cliArgv('catchup/cutover-cli.ts', ['--writers-stopped', '--fresh-run', stopped]), { cwd: REPO, env: { ...process.env, TABLE: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
      if (/4\. fresh run/.test(stderr)) setTimeout(() => child.kill('SIGTERM'), 500);
    });
    child.on('close', (code) => resolve({ code, stderr }));
  });
  t.is(term.code, 143, term.stderr);
  t.regex(term.stderr.trimEnd().split('\n').at(-1)!, /^cutover: interrupted; .*rerun make cutover/);
  await new Promise((r) => setTimeout(r, 1000));
  const orphans = fs.readdirSync('/proc').filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
    try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(stopped); } catch { return false; }
  });
  t.deepEqual(orphans, [], 'no stage of the stopped cutover still runs');
  const cutover = await runCli('catchup/cutover-cli.ts', ['--writers-stopped', '--json'], env);
  const result = JSON.parse(cutover.stdout) as { go: boolean; differing: number; stray: number };
  t.true(result.go, cutover.stderr);
  t.is(result.differing, 0);
  t.is(result.stray, 0);
});

test.serial('extract FOLLOW=1 refuses a user without the replication privilege and a table without REPLICA IDENTITY FULL, printing the statements to run', async (t) => {
  const name = randomName('t_');
  const url = await createDatabase(adminUrl, name);
  const role = randomName('r_');
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query('CREATE TABLE things (id int PRIMARY KEY, label text)');
  await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'catchup-test'; GRANT SELECT ON things TO ${role}`);
  await admin.end();
  t.teardown(async () => {
    await dropDatabase(adminUrl, name, { waitForSessionsMs: 10_000 });
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`DROP ROLE IF EXISTS ${role}`);
    await c.end();
  });
  const env = { STORE: freshBucketPrefix(), RUN: 'refused', CI: 'true' };
  const asRole = new URL(url);
  asRole.username = role;
  asRole.password = 'catchup-test';
  const unprivileged = await runCli('extract/cli.ts', ['--follow'], { ...env, DATABASE_URL: asRole.toString() });
  t.is(unprivileged.code, 1);
  t.regex(unprivileged.stderr, new RegExp(`ALTER ROLE "${role}" WITH REPLICATION;`));
  const r = await runCli('extract/cli.ts', ['--follow'], { ...env, DATABASE_URL: url });
  t.is(r.code, 1);
  t.regex(r.stderr, /ALTER TABLE "public"\."things" REPLICA IDENTITY FULL;/);
  // Refused before anything was written to the source: no slot, no publication.
  const check = new pg.Client({ connectionString: url });
  await check.connect();
  t.is((await check.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'pg2ddb_refused'")).rowCount, 0);
  t.is((await check.query("SELECT 1 FROM pg_publication WHERE pubname = 'pg2ddb_refused'")).rowCount, 0);
  await check.end();
});

/** A one-table database (REPLICA IDENTITY FULL) for the cheap attacks: extract only, or the generic mapper. */
async function tinyDatabase(t: import('ava').ExecutionContext): Promise<string> {
  const name = randomName('t_');
  const url = await createDatabase(adminUrl, name);
  t.teardown(() => dropDatabase(adminUrl, name, { waitForSessionsMs: 10_000 }));
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  await db.query(`CREATE TABLE things (id int PRIMARY KEY, label text); ALTER TABLE things REPLICA IDENTITY FULL;
    INSERT INTO things SELECT i, 'thing ' || i FROM generate_series(1, 20) i`);
  await db.end();
  return url;
}

/** A tiny database whose `things` a publication and a slot of its own follow, the slot opened as catchup opens a run's. */
async function thingsSlot(t: import('ava').ExecutionContext, prefix: string): Promise<{ db: pg.Client; slot: Slot; publication: string }> {
  const url = await tinyDatabase(t);
  const { slot: slotName, publication } = followNames(randomName(prefix));
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  t.teardown(() => db.end().catch(() => {}));
  await db.query(`CREATE PUBLICATION ${publication} FOR TABLE things`);
  const { rows: [created] } = await db.query<{ lsn: string }>(`SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')`, [slotName]);
  t.teardown(() => db.query('SELECT pg_drop_replication_slot($1)', [slotName]).then(() => {}, () => {}));
  const follow = { slot: slotName, publication, consistent_lsn: created!.lsn, tables: ['things'], publication_state: await publicationState(db, publication) };
  const slot = await Slot.open(url, follow);
  t.teardown(() => slot.close().catch(() => {}));
  return { db, slot, publication };
}

async function slotsOf(url: string): Promise<string[]> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const { rows } = await db.query<{ slot_name: string }>('SELECT slot_name FROM pg_replication_slots ORDER BY 1');
  await db.end();
  return rows.map((r) => r.slot_name);
}

test.serial('runs whose ids differ only in characters a slot name cannot hold get slots of their own, and a TABLE= extract cannot replace a followed run\'s files', async (t) => {
  const url = await tinyDatabase(t);
  const base = randomName('twin');
  const STORE = freshBucketPrefix();
  const runs = [`${base}-a`, `${base}_a`];
  for (const RUN of runs) {
    t.teardown(() => runCli('catchup/cli.ts', ['--drop-slot'], { DATABASE_URL: url, STORE, RUN, CI: 'true' }).then(() => {}));
    const r = await runCli('extract/cli.ts', ['--follow'], { DATABASE_URL: url, STORE, RUN, CI: 'true' });
    t.is(r.code, 0, r.stderr);
  }
  // The second run's extract must not have dropped (or taken over) the first run's slot.
  const slots = await Promise.all(runs.map(async (run) => (JSON.parse((await openStorage(STORE).sub(run).getText('extract/manifest.json'))!) as { follow: { slot: string } }).follow.slot));
  t.not(slots[0], slots[1]);
  const live = await slotsOf(url);
  for (const slot of slots) t.true(live.includes(slot), `${slot} in ${live.join(', ')}`);
  // A TABLE= extract takes a snapshot of its own, later than the slot's: its rows would be both in the files and in the slot.
  const rerun = await runCli('extract/cli.ts', ['--table', 'things'], { DATABASE_URL: url, STORE, RUN: runs[0]!, CI: 'true' });
  t.is(rerun.code, 1, rerun.stderr);
  t.regex(rerun.stderr, /FOLLOW=1/);
});

test.serial('catchup refuses a table the run is not loaded into; cutover says NO-GO when a writer commits after the drain, even after the fresh run\'s snapshot', async (t) => {
  const url = await tinyDatabase(t);
  const RUN = randomName('late-');
  const env = { DATABASE_URL: url, STORE: freshBucketPrefix(), RUN, DDB_TABLE: randomName('late-'), MODE: 'batch', UNMAPPED: 'generic', CI: 'true' };
  t.teardown(() => runCli('catchup/cli.ts', ['--drop-slot'], env).then(() => {}));
  for (const script of ['extract/cli.ts', 'transform/cli.ts']) {
    const r = await runCli(script, script.startsWith('extract') ? ['--follow'] : [], env);
    t.is(r.code, 0, r.stderr);
  }
  const source = new pg.Client({ connectionString: url });
  await source.connect();
  source.on('error', () => {}); // ended by the database's drop when an assertion failed first
  await source.query(`UPDATE things SET label = 'changed' WHERE id = 2`);
  const confirmed = async () => (await source.query<{ lsn: string }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
    [(JSON.parse((await openStorage(env.STORE).sub(RUN).getText('extract/manifest.json'))!) as { follow: { slot: string } }).follow.slot])).rows[0]!.lsn;
  const before = await confirmed();
  // Into a table the run was never loaded into (a mistyped DDB_TABLE), the change would be confirmed and lost to the real one.
  const other = await freshDynamoTable(t, dynamoClient(), 'other-');
  const refused = await runCli('catchup/cli.ts', ['--ddb-table', other], env);
  t.is(refused.code, 1, refused.stderr);
  t.regex(refused.stderr, /catchup: no load of run/);
  t.is(await confirmed(), before);
  await source.end();
  const load = await runCli('load/cli.ts', [], env);
  t.is(load.code, 0, load.stderr);
  // A writer never stopped, committing all through the cutover: one pass, then NO-GO (draining until nothing is pending need not end).
  let busy = true;
  const busyClient = new pg.Client({ connectionString: url });
  await busyClient.connect();
  busyClient.on('error', () => {});
  const busyWriter = (async () => {
    for (let i = 0; busy; i++) {
      await busyClient.query(`UPDATE things SET label = 'busy ${i}' WHERE id = 3`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await busyClient.end();
  })();
  const running = await runCli('catchup/cutover-cli.ts', ['--writers-stopped', '--json', '--fresh-run', `${RUN}-busy`], env, 120_000);
  busy = false;
  await busyWriter;
  t.is(running.signal, null, 'cutover ended on its own');
  t.is(running.code, 1, running.stderr);
  t.false((JSON.parse(running.stdout || '{}') as { go?: boolean }).go);
  // A writer nobody stopped: it commits once the fresh run's snapshot is taken, so the fresh run and the table agree.
  const fresh = openStorage(env.STORE).sub(`${RUN}-cutover`);
  let stop = false;
  const writer = (async () => {
    while (!stop && !(await fresh.list('extract').then((l) => l.some((f) => f.key.endsWith('manifest.json'))).catch(() => false))) await new Promise((r) => setTimeout(r, 50));
    if (stop) return false;
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    await db.query(`UPDATE things SET label = 'late' WHERE id = 1`);
    await db.end();
    return true;
  })();
  const cutover = await runCli('catchup/cutover-cli.ts', ['--writers-stopped', '--json'], env);
  stop = true;
  t.true(await writer, 'the writer committed during the cutover');
  const result = JSON.parse(cutover.stdout) as { go: boolean };
  t.false(result.go, cutover.stdout);
  t.is(cutover.code, 1);
  t.regex(cutover.stdout + cutover.stderr, /writer/i);
});

/** A live run of the Serenya database plus a table of `ddl` the model does not map (UNMAPPED=skip), extracted, transformed and loaded. */
async function scratchRun(t: import('ava').ExecutionContext, ddl: string) {
  const { url, env } = await liveRun(t);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  t.teardown(() => db.end().catch(() => {}));
  await db.query(ddl);
  const skipping = { ...env, UNMAPPED: 'skip' };
  await pipeline(t, skipping);
  return { db, skipping };
}

test.serial('a TRUNCATE of a table the run skips (and no join reads) changes no item and is passed over; one of a mapped table stops catchup, naming it', async (t) => {
  const { db, skipping } = await scratchRun(t, 'CREATE TABLE scratch (id int PRIMARY KEY); ALTER TABLE scratch REPLICA IDENTITY FULL; INSERT INTO scratch SELECT generate_series(1, 5)');
  await db.query('TRUNCATE scratch');
  await db.query(`UPDATE users SET name = name || '!' WHERE id = (SELECT id FROM users ORDER BY id LIMIT 1)`);
  const caught = await runCli('catchup/cli.ts', ['--json'], skipping);
  t.is(caught.code, 0, caught.stderr);
  const summary = JSON.parse(caught.stdout) as { transactions: number; writes: { puts: number } };
  t.is(summary.transactions, 2, caught.stdout);
  t.true(summary.writes.puts >= 1, caught.stdout);
  await db.query('TRUNCATE scratch, consent_records');
  const refused = await runCli('catchup/cli.ts', [], skipping);
  t.is(refused.code, 1, refused.stdout + refused.stderr);
  t.regex(refused.stderr, /table\(s\) consent_records were truncated in the transaction committed at /);
});

test.serial('catchup --drop-slot drops the slot and publication an extract FOLLOW=1 left when it died before its manifest', async (t) => {
  const url = await tinyDatabase(t);
  const env = { DATABASE_URL: url, STORE: freshBucketPrefix(), RUN: randomName('dead-'), CI: 'true' };
  // What extract FOLLOW=1 has made on the source when it is killed while copying: the slot and publication of the run, no manifest.
  const { slot, publication } = followNames(env.RUN);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  await db.query(`CREATE PUBLICATION ${publication} FOR TABLE things`);
  await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  await db.end();
  const r = await runCli('catchup/cli.ts', ['--drop-slot', '--json'], env);
  t.is(r.code, 0, r.stderr);
  t.true((JSON.parse(r.stdout) as { dropped: boolean }).dropped);
  t.false((await slotsOf(url)).includes(slot));
});

test.serial('a partitioned table: extract FOLLOW=1 asks REPLICA IDENTITY FULL of each partition, then follows rows that move between partitions', async (t) => {
  const name = randomName('t_');
  const url = await createDatabase(adminUrl, name);
  t.teardown(() => dropDatabase(adminUrl, name, { waitForSessionsMs: 10_000 }));
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  db.on('error', () => {}); // ended by the database's drop when an assertion failed first
  // The partitioned table's own identity does not reach its partitions, which log the changes.
  await db.query(`CREATE TABLE readings (id int, day int, label text, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
    CREATE TABLE readings_a PARTITION OF readings FOR VALUES FROM (0) TO (10);
    CREATE TABLE readings_b PARTITION OF readings FOR VALUES FROM (10) TO (20);
    ALTER TABLE readings REPLICA IDENTITY FULL;
    INSERT INTO readings SELECT i, i % 20, 'reading ' || i FROM generate_series(1, 40) i`);
  const RUN = randomName('parts-');
  const env = { DATABASE_URL: url, STORE: freshBucketPrefix(), RUN, DDB_TABLE: randomName('parts-'), MODE: 'batch', UNMAPPED: 'generic', CI: 'true' };
  t.teardown(() => runCli('catchup/cli.ts', ['--drop-slot'], env).then(() => {}));
  const refused = await runCli('extract/cli.ts', ['--follow'], env);
  t.is(refused.code, 1, refused.stderr);
  t.regex(refused.stderr, /ALTER TABLE "public"\."readings_a" REPLICA IDENTITY FULL;\n {2}ALTER TABLE "public"\."readings_b" REPLICA IDENTITY FULL;/);
  await db.query('ALTER TABLE readings_a REPLICA IDENTITY FULL; ALTER TABLE readings_b REPLICA IDENTITY FULL');
  await pipeline(t, env);
  // An update in place, a row moving to the other partition (its item key changes), a delete.
  for (const change of [`UPDATE readings SET label = 'moved' WHERE id = 3`, 'UPDATE readings SET day = 15 WHERE id = 4', 'DELETE FROM readings WHERE id = 5']) await db.query(change);
  // Cutover from a shell without the run's UNMAPPED: the fresh run must still map as the run did. Twice: the
  // second fresh run replaces the first.
  for (const [i, changes] of [3, 1].entries()) {
    if (i > 0) await db.query(`UPDATE readings SET label = 'again' WHERE id = 6`);
    const cutover = await runCli('catchup/cutover-cli.ts', ['--writers-stopped', '--json'], { ...env, UNMAPPED: '' });
    t.is(cutover.code, 0, cutover.stderr);
    const result = JSON.parse(cutover.stdout) as { go: boolean; drained: { transactions: number }; differing: number; stray: number };
    t.true(result.go, cutover.stderr);
    t.is(result.drained.transactions, changes);
    t.is(result.stray, 0);
  }
  await db.end();
});

/** A database of `ddl` (every table REPLICA IDENTITY FULL by the caller), and a generic-mapped run env for it. */
async function breakDatabase(t: import('ava').ExecutionContext, ddl: string, prefix: string) {
  const name = randomName('t_');
  const url = await createDatabase(adminUrl, name);
  t.teardown(() => dropDatabase(adminUrl, name, { waitForSessionsMs: 10_000 }));
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  db.on('error', () => {});
  await db.query(ddl);
  const RUN = randomName(prefix);
  const env = { DATABASE_URL: url, STORE: freshBucketPrefix(), RUN, DDB_TABLE: randomName(prefix), MODE: 'batch', UNMAPPED: 'generic', CI: 'true' };
  t.teardown(() => runCli('catchup/cli.ts', ['--drop-slot'], env).then(() => {}));
  t.teardown(() => db.end().catch(() => {}));
  return { db, env };
}

test.serial('break: one statement shifting rows into each other\'s item keys (a DEFERRABLE key) loses no item', async (t) => {
  const { db, env } = await breakDatabase(t, `CREATE TABLE slots (pos int PRIMARY KEY DEFERRABLE, label text);
    CREATE TABLE marks (pos int PRIMARY KEY DEFERRABLE);
    ALTER TABLE slots REPLICA IDENTITY FULL; ALTER TABLE marks REPLICA IDENTITY FULL;
    INSERT INTO slots SELECT i, 'slot ' || i FROM generate_series(1, 10) i;
    INSERT INTO marks SELECT i FROM generate_series(1, 10) i`, 'shift-');
  await pipeline(t, env);
  // Row 1 takes key 2 while row 2 still holds it, row 2 then leaves key 2 for 3, …: the unique check is at the statement's end.
  await db.query('UPDATE slots SET pos = pos + 1');
  await db.query('UPDATE marks SET pos = pos + 1');
  const caught = await runCli('catchup/cli.ts', ['--json'], env);
  t.is(caught.code, 0, caught.stderr);
  const cutover = await runCli('catchup/cutover-cli.ts', ['--writers-stopped', '--json'], env);
  const result = JSON.parse(cutover.stdout || '{}') as { go: boolean; missing: number; differing: number; stray: number };
  t.is(result.missing, 0, cutover.stdout);
  t.is(result.stray, 0, cutover.stdout);
  t.is(result.differing, 0, cutover.stdout);
  t.true(result.go, cutover.stderr);
});

test.serial('break: a load of the run after catchup applied changes is refused (it would put the snapshot\'s older items back), and so is a catchup into another table; after a catchup that wrote nothing it is not', async (t) => {
  const { db, env } = await breakDatabase(t, `CREATE TABLE things (id int PRIMARY KEY, label text); ALTER TABLE things REPLICA IDENTITY FULL;
    INSERT INTO things SELECT i, 'thing ' || i FROM generate_series(1, 20) i`, 'reload-');
  await pipeline(t, env);
  // A catchup that wrote nothing leaves the table as the load made it: loading the run again is not refused.
  const empty = await runCli('catchup/cli.ts', ['--json'], env);
  t.is(empty.code, 0, empty.stderr);
  t.is((JSON.parse(empty.stdout) as { transactions: number }).transactions, 0, empty.stdout);
  const again = await runCli('load/cli.ts', [], env);
  t.is(again.code, 0, again.stderr);
  await db.query(`UPDATE things SET label = 'changed' WHERE id = 2`);
  await db.query(`INSERT INTO things VALUES (21, 'new')`);
  const caught = await runCli('catchup/cli.ts', ['--json'], env);
  t.is(caught.code, 0, caught.stderr);
  for (const args of [[], ['--table', 'things'], ['--table', 'things', '--prune']]) {
    const reload = await runCli('load/cli.ts', args, env);
    t.is(reload.code, 1, `load ${args.join(' ')}: ${reload.stderr}`);
    t.regex(reload.stderr, /catchup/);
  }
  // The run loaded afresh into another table holds the snapshot: the slot is past the changes already applied.
  const other = { ...env, DDB_TABLE: randomName('reload-') };
  const load = await runCli('load/cli.ts', [], other);
  t.is(load.code, 0, load.stderr);
  const refused = await runCli('catchup/cli.ts', [], other);
  t.is(refused.code, 1, refused.stderr);
  t.regex(refused.stderr, new RegExp(env.DDB_TABLE));
  const cutover = await runCli('catchup/cutover-cli.ts', ['--writers-stopped', '--json'], env);
  t.true((JSON.parse(cutover.stdout || '{}') as { go?: boolean }).go, cutover.stdout + cutover.stderr);
});

test.serial('break: extract FOLLOW=1 refuses a table with a virtual generated column (never replicated) before the run is made', async (t) => {
  const { env } = await breakDatabase(t, `CREATE TABLE things (id int PRIMARY KEY, label text, shout text GENERATED ALWAYS AS (upper(label)) VIRTUAL);
    ALTER TABLE things REPLICA IDENTITY FULL; INSERT INTO things SELECT i, 'thing ' || i FROM generate_series(1, 5) i`, 'virtual-');
  const r = await runCli('extract/cli.ts', ['--follow'], env);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /things/);
  t.regex(r.stderr, /virtual/i);
});

test.serial('break: a delete whose old row is the identity\'s key columns only (REPLICA IDENTITY no longer FULL) stops catchup instead of leaving the item', async (t) => {
  const { db, env } = await breakDatabase(t, `CREATE TABLE things (id int PRIMARY KEY, owner text NOT NULL, label text); ALTER TABLE things REPLICA IDENTITY FULL;
    INSERT INTO things SELECT i, 'owner' || (i % 3), 'thing ' || i FROM generate_series(1, 12) i`, 'ident-');
  // A model of one's own whose item key reads a column outside the primary key.
  const model = fs.mkdtempSync(path.join(os.tmpdir(), 'pg2ddb-break-model-'));
  t.teardown(() => fs.rmSync(model, { recursive: true, force: true }));
  fs.writeFileSync(path.join(model, 'package.json'), '{ "type": "module" }\n');
  fs.writeFileSync(path.join(model, 'things.ts'), `import { defineMapper } from ${JSON.stringify(path.join(REPO, 'model/entity.ts'))};
export default defineMapper({ table: 'things', entityType: 'thing', key: { pk: 'OWNER#{owner}', sk: 'THING#{id}' } });\n`);
  const withModel = { ...env, MODEL: model };
  await pipeline(t, withModel);
  // A DBA "tidies up" mid-migration: deletes now log the primary key only.
  await db.query('ALTER TABLE things REPLICA IDENTITY DEFAULT');
  await db.query('DELETE FROM things WHERE id = 4');
  const caught = await runCli('catchup/cli.ts', [], withModel);
  t.is(caught.code, 1, caught.stdout + caught.stderr);
  t.regex(caught.stderr, /things.*REPLICA IDENTITY FULL/);
});

test.serial('break: catchup --drop-slot refuses while a catchup of the run holds the slot between its reads', async (t) => {
  const { env } = await breakDatabase(t, `CREATE TABLE things (id int PRIMARY KEY, label text); ALTER TABLE things REPLICA IDENTITY FULL;
    INSERT INTO things SELECT i, 'thing ' || i FROM generate_series(1, 5) i`, 'dropping-');
  const r = await runCli('extract/cli.ts', ['--follow'], env);
  t.is(r.code, 0, r.stderr);
  const { slot } = (JSON.parse((await openStorage(env.STORE).sub(env.RUN).getText('extract/manifest.json'))!) as { follow: { slot: string } }).follow;
  // What a running catchup holds (catchup/slot.ts): its lock, while between two SQL calls the slot itself is not active.
  const { lockKey } = await import('../catchup/slot.ts');
  const holder = new pg.Client({ connectionString: env.DATABASE_URL });
  await holder.connect();
  await holder.query('SELECT pg_advisory_lock($1)', [lockKey(slot)]);
  const refused = await runCli('catchup/cli.ts', ['--drop-slot'], env);
  await holder.end();
  t.is(refused.code, 1, refused.stdout + refused.stderr);
  t.regex(refused.stderr, /running/);
  t.true((await slotsOf(env.DATABASE_URL)).includes(slot));
});

test.serial('break: an ALTER COLUMN TYPE since the extract stops catchup, as an added or dropped column does', async (t) => {
  const { db, env } = await breakDatabase(t, `CREATE TABLE things (id int PRIMARY KEY, label text, amount int); ALTER TABLE things REPLICA IDENTITY FULL;
    INSERT INTO things SELECT i, 'thing ' || i, i FROM generate_series(1, 5) i`, 'retype-');
  await pipeline(t, env);
  // amount's items were N; they are S from now on, and catchup would go on writing N.
  await db.query('ALTER TABLE things ALTER COLUMN amount TYPE text');
  await db.query(`UPDATE things SET label = 'changed' WHERE id = 1`);
  const caught = await runCli('catchup/cli.ts', [], env);
  t.is(caught.code, 1, caught.stdout + caught.stderr);
  t.regex(caught.stderr, /things.*amount.*text.*integer/);
});

test.serial('break: odd names, one row changed many times in one transaction read in small batches, a delete and re-insert, a key change, an oversize row and oversize keys', async (t) => {
  const odd = '"Tbl ""q"".ü"';
  const { db, env } = await breakDatabase(t, `CREATE TABLE ${odd} ("Id" int PRIMARY KEY, "col.1" text, "Ünï" text);
    CREATE TABLE keys (k text PRIMARY KEY, v text);
    ALTER TABLE ${odd} REPLICA IDENTITY FULL; ALTER TABLE keys REPLICA IDENTITY FULL;
    INSERT INTO ${odd} SELECT i, 'c' || i, 'ü' || i FROM generate_series(1, 10) i;
    INSERT INTO keys VALUES ('a', 'x'), ('b', 'y')`, 'odd-');
  await pipeline(t, env);
  await db.query(`BEGIN;
    ${Array.from({ length: 10 }, () => `UPDATE ${odd} SET "col.1" = "col.1" || '+' WHERE "Id" = 1;`).join('\n')}
    DELETE FROM ${odd} WHERE "Id" = 2; INSERT INTO ${odd} VALUES (2, 'again', 'ü');
    UPDATE ${odd} SET "Id" = 500 WHERE "Id" = 5;
    UPDATE ${odd} SET "Ünï" = repeat('ü', 300000) WHERE "Id" = 6;
    INSERT INTO keys VALUES (repeat('k', 3000), 'long');
    UPDATE keys SET k = repeat('j', 2100) WHERE k = 'a';
    COMMIT`);
  await db.query(`DELETE FROM ${odd} WHERE "Id" = 3`);
  await db.query(`INSERT INTO ${odd} VALUES (3, 'back', NULL)`);
  await db.query(`UPDATE ${odd} SET "Ünï" = 'small' WHERE "Id" = 7`);
  const caught = await runCli('catchup/cli.ts', ['--batch', '3', '--json'], env);
  t.is(caught.code, 0, caught.stderr);
  t.is((JSON.parse(caught.stdout) as { rejected: number }).rejected, 3, caught.stdout);
  const cutover = await runCli('catchup/cutover-cli.ts', ['--writers-stopped', '--json'], env);
  const result = JSON.parse(cutover.stdout || '{}') as { go: boolean; missing: number; differing: number; stray: number };
  t.true(result.go, cutover.stdout + cutover.stderr);
});

test.serial('break: a table taken out of the run\'s publication (its changes no longer sent) stops catchup instead of leaving its items as they were', async (t) => {
  const { db, env } = await breakDatabase(t, `CREATE TABLE things (id int PRIMARY KEY, label text); CREATE TABLE others (id int PRIMARY KEY, label text);
    ALTER TABLE things REPLICA IDENTITY FULL; ALTER TABLE others REPLICA IDENTITY FULL;
    INSERT INTO things SELECT i, 'thing ' || i FROM generate_series(1, 5) i; INSERT INTO others VALUES (1, 'other')`, 'unpub-');
  await pipeline(t, env);
  const { publication } = (JSON.parse((await openStorage(env.STORE).sub(env.RUN).getText('extract/manifest.json'))!) as { follow: { publication: string } }).follow;
  await db.query(`ALTER PUBLICATION ${publication} DROP TABLE things`);
  await db.query(`UPDATE things SET label = 'changed' WHERE id = 1`);
  const caught = await runCli('catchup/cli.ts', [], env);
  t.is(caught.code, 1, caught.stdout + caught.stderr);
  t.regex(caught.stderr, /no longer holds table\(s\) things/);
});

test.serial('break: a publication altered and put back (a table dropped from it and added again) stops catchup: the changes made meanwhile were never sent', async (t) => {
  const { db, env } = await breakDatabase(t, `CREATE TABLE things (id int PRIMARY KEY, label text); ALTER TABLE things REPLICA IDENTITY FULL;
    INSERT INTO things SELECT i, 'thing ' || i FROM generate_series(1, 5) i`, 'pubback-');
  await pipeline(t, env);
  const { publication } = (JSON.parse((await openStorage(env.STORE).sub(env.RUN).getText('extract/manifest.json'))!) as { follow: { publication: string } }).follow;
  // The update is made while things is out of the publication: it never reaches the slot, yet the publication looks as before.
  await db.query(`ALTER PUBLICATION ${publication} DROP TABLE things`);
  await db.query(`UPDATE things SET label = 'changed' WHERE id = 1`);
  await db.query(`ALTER PUBLICATION ${publication} ADD TABLE things`);
  await db.query(`UPDATE things SET label = 'changed too' WHERE id = 2`);
  const caught = await runCli('catchup/cli.ts', [], env);
  t.is(caught.code, 1, caught.stdout + caught.stderr);
  t.regex(caught.stderr, /publication pg2ddb_\w+ was altered after the extract made it/);
  const cutover = await runCli('catchup/cutover-cli.ts', ['--writers-stopped'], env);
  t.is(cutover.code, 1, cutover.stdout + cutover.stderr);
  t.regex(cutover.stderr, /was altered after the extract made it/);
});

test.serial('a catchup refuses to confirm the slot once its publication was altered, even if put back, and reads an unaltered one as unchanged', async (t) => {
  const { db, slot, publication } = await thingsSlot(t, 'pubstate-');
  const state = slot.follow.publication_state;
  t.truthy(state);
  await db.query(`INSERT INTO things VALUES (1000, 'new')`);
  const lsn = await slot.currentLsn();
  await slot.confirm(lsn);
  // publish narrowed and widened again: every flag reads as extract set it, only the row's xmin moved.
  await db.query(`ALTER PUBLICATION ${publication} SET (publish = 'insert, update')`);
  await db.query(`ALTER PUBLICATION ${publication} SET (publish = 'insert, update, delete, truncate')`);
  t.not(await publicationState(db, publication), state);
  await db.query('DELETE FROM things WHERE id = 1000');
  await t.throwsAsync(slot.confirm(await slot.currentLsn()), { message: /was altered after the extract made it/ });
  t.is(await slot.confirmedLsn(), lsn);
});

test.serial('break: catchup as a role that row-level security restricts refuses, naming the table, instead of moving a joined key\'s items through the rows it may see', async (t) => {
  const { url, env } = await liveRun(t);
  await pipeline(t, env);
  const role = randomName('r_');
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  t.teardown(async () => {
    await db.end().catch(() => {});
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    // The database goes in its own teardown; the role's grants with it.
    await c.query(`DROP OWNED BY ${role}`).catch(() => {});
    await c.end();
  });
  await db.query(`CREATE ROLE ${role} LOGIN REPLICATION PASSWORD 'catchup-test';
    GRANT USAGE ON SCHEMA public TO ${role}; GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role};
    ALTER TABLE biometric_registrations ENABLE ROW LEVEL SECURITY;
    CREATE POLICY nobody ON biometric_registrations FOR SELECT USING (false)`);
  // A device with registrations moves to another user: its registrations' items (USER#{user_id} joined) move too.
  const moved = await db.query(`UPDATE user_devices SET user_id = (SELECT id FROM users WHERE id <> user_devices.user_id ORDER BY id LIMIT 1)
    WHERE id = (SELECT device_id FROM biometric_registrations ORDER BY id LIMIT 1) RETURNING id`);
  t.is(moved.rowCount, 1);
  const asRole = new URL(url);
  asRole.username = role;
  asRole.password = 'catchup-test';
  const caught = await runCli('catchup/cli.ts', ['--json'], { ...env, DATABASE_URL: asRole.toString() });
  t.is(caught.code, 1, `exit ${caught.code}: ${caught.stdout} ${caught.stderr}`);
  t.regex(caught.stderr, /row-level security.*biometric_registrations/);
});

test.serial('break: a publication that no longer sends deletes, or sends only the rows a filter passes, stops catchup as a table taken out of it does', async (t) => {
  const { db, env } = await breakDatabase(t, `CREATE TABLE things (id int PRIMARY KEY, label text); ALTER TABLE things REPLICA IDENTITY FULL;
    INSERT INTO things SELECT i, 'thing ' || i FROM generate_series(1, 5) i`, 'pubkind-');
  await pipeline(t, env);
  const { publication } = (JSON.parse((await openStorage(env.STORE).sub(env.RUN).getText('extract/manifest.json'))!) as { follow: { publication: string } }).follow;
  // Deletes no longer sent: the item of row 2 would stay.
  await db.query(`ALTER PUBLICATION ${publication} SET (publish = 'insert, update')`);
  await db.query('DELETE FROM things WHERE id = 2');
  const unsent = await runCli('catchup/cli.ts', [], env);
  t.is(unsent.code, 1, unsent.stdout + unsent.stderr);
  t.regex(unsent.stderr, /no longer publishes delete, truncate/);
  // A row filter (PostgreSQL 15): the update of row 1 is not sent, its item keeps the old label.
  await db.query(`ALTER PUBLICATION ${publication} SET (publish = 'insert, update, delete, truncate')`);
  await db.query(`ALTER PUBLICATION ${publication} SET TABLE things WHERE (id > 3)`);
  await db.query(`UPDATE things SET label = 'changed' WHERE id = 1`);
  const filtered = await runCli('catchup/cli.ts', [], env);
  t.is(filtered.code, 1, filtered.stdout + filtered.stderr);
  t.regex(filtered.stderr, /filter \(WHERE\).*things/);
});

test.serial('break: catchup with another model than the run was transformed with (MODEL= forgotten, UNMAPPED=skip) refuses instead of skipping a loaded table\'s changes and TRUNCATE', async (t) => {
  const { db, env } = await breakDatabase(t, `CREATE TABLE things (id int PRIMARY KEY, label text); ALTER TABLE things REPLICA IDENTITY FULL;
    INSERT INTO things SELECT i, 'thing ' || i FROM generate_series(1, 5) i`, 'model-');
  const model = fs.mkdtempSync(path.join(os.tmpdir(), 'pg2ddb-break-model-'));
  t.teardown(() => fs.rmSync(model, { recursive: true, force: true }));
  fs.writeFileSync(path.join(model, 'package.json'), '{ "type": "module" }\n');
  fs.writeFileSync(path.join(model, 'things.ts'), `import { defineMapper } from ${JSON.stringify(path.join(REPO, 'model/entity.ts'))};
export default defineMapper({ table: 'things', entityType: 'thing', key: { pk: 'THING#{id}', sk: 'THING' } });\n`);
  const skipping = { ...env, UNMAPPED: 'skip' };
  await pipeline(t, { ...skipping, MODEL: model });
  await db.query(`UPDATE things SET label = 'changed' WHERE id = 1`);
  await db.query('TRUNCATE things');
  // The shipped model has no mapper for things: skipped, its update and TRUNCATE would be confirmed unapplied.
  const forgot = await runCli('catchup/cli.ts', [], skipping);
  t.is(forgot.code, 1, forgot.stdout + forgot.stderr);
  t.regex(forgot.stderr, /things.*transformed with a mapper \(entity_type thing\).*skip/);
  const cutover = await runCli('catchup/cutover-cli.ts', ['--writers-stopped'], skipping);
  t.is(cutover.code, 1, cutover.stdout + cutover.stderr);
  t.regex(cutover.stderr, /things.*transformed with a mapper/);
  // With the run's model, the TRUNCATE of a mapped table stops catchup as before.
  const withModel = await runCli('catchup/cli.ts', [], { ...skipping, MODEL: model });
  t.is(withModel.code, 1, withModel.stdout + withModel.stderr);
  t.regex(withModel.stderr, /table\(s\) things were truncated/);
});

test.serial('a commit made before catchup reads its target is in it, though still in the WAL buffers (an asynchronous commit, not yet written)', async (t) => {
  const { db, slot } = await thingsSlot(t, 'insert-');
  await db.query('SET synchronous_commit = off');
  // Each commit returns before the WAL writer writes it (within its 200 ms): the written position read at once is before it.
  for (let i = 0; i < 5; i++) {
    await db.query('INSERT INTO things VALUES ($1, $2)', [2000 + i, 'async']);
    const target = await slot.currentLsn();
    const inserted = (await slot.peek(target, 1000)).filter((m) => m.kind === 'insert').length;
    t.is(inserted, i + 1, `commit ${i + 1} is past target ${target}`);
  }
});

test.serial('break: a commit written but not yet flushed when catchup reads its target is not confirmed unread once it is flushed (peek reads only flushed WAL)', async (t) => {
  const { db, slot } = await thingsSlot(t, 'flush-');
  await db.query('CREATE TABLE junk (x text)');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  // A lazy WAL writer: an asynchronous commit stays unflushed while a backend writes WAL past it (the buffers fill).
  await admin.query(`ALTER SYSTEM SET wal_writer_delay = '10s'`);
  await admin.query(`ALTER SYSTEM SET wal_writer_flush_after = '1GB'`);
  await admin.query('SELECT pg_reload_conf()');
  t.teardown(async () => {
    await admin.query('ALTER SYSTEM RESET wal_writer_delay');
    await admin.query('ALTER SYSTEM RESET wal_writer_flush_after');
    await admin.query('SELECT pg_reload_conf()');
    await admin.end();
  });
  await new Promise((r) => setTimeout(r, 500)); // the reload reaches the WAL writer
  await db.query('SET synchronous_commit = off');
  await db.query(`INSERT INTO things VALUES (1000, 'async')`);
  await db.query(`INSERT INTO junk SELECT repeat('x', 100) FROM generate_series(1, 30000)`);
  await db.query('SET synchronous_commit = on');
  // What drain does: read the target, peek up to it; finding no commit, confirm the target.
  const target = await slot.currentLsn();
  const seen = (await slot.peek(target, 1000)).some((m) => m.kind === 'insert');
  await db.query(`INSERT INTO junk VALUES ('a synchronous commit flushes the WAL')`);
  if (!seen) await slot.confirm(target);
  t.true(seen || (await slot.pendingChanges()) > 0, `the insert was confirmed unread (target ${target})`);
});

test.serial('break: DDL on a table the run skips and no join reads (a column added, a type changed, REPLICA IDENTITY reset) is passed over like its TRUNCATE, not a stop for good', async (t) => {
  const { db, skipping } = await scratchRun(t, 'CREATE TABLE scratch (id int PRIMARY KEY, n int); ALTER TABLE scratch REPLICA IDENTITY FULL; INSERT INTO scratch SELECT i, i FROM generate_series(1, 5) i');
  await db.query(`ALTER TABLE scratch ADD COLUMN note text; ALTER TABLE scratch ALTER COLUMN n TYPE bigint; ALTER TABLE scratch REPLICA IDENTITY DEFAULT`);
  await db.query(`INSERT INTO scratch VALUES (6, 6, 'new'); UPDATE scratch SET note = 'x' WHERE id = 1; DELETE FROM scratch WHERE id = 2`);
  await db.query(`UPDATE users SET name = name || '!' WHERE id = (SELECT id FROM users ORDER BY id LIMIT 1)`);
  const caught = await runCli('catchup/cli.ts', ['--json'], skipping);
  t.is(caught.code, 0, caught.stderr);
  t.true((JSON.parse(caught.stdout) as { writes: { puts: number } }).writes.puts >= 1, caught.stdout);
  // A mapped table's DDL still stops it.
  await db.query('ALTER TABLE consent_records ADD COLUMN note text');
  await db.query(`UPDATE consent_records SET note = 'x' WHERE id = (SELECT id FROM consent_records ORDER BY id LIMIT 1)`);
  const refused = await runCli('catchup/cli.ts', [], skipping);
  t.is(refused.code, 1, refused.stdout + refused.stderr);
  t.regex(refused.stderr, /table consent_records: column\(s\) note were added/);
});

test.serial('break: arrays of domains (and a domain over one) caught up as transform decodes them; a batch of rejects only records no target, so a load after it is not refused', async (t) => {
  const { db, env } = await breakDatabase(t, `CREATE DOMAIN posint AS int CHECK (VALUE > 0); CREATE DOMAIN posints AS posint[];
    CREATE DOMAIN amount AS numeric(6,2); CREATE DOMAIN stamp AS timestamptz; CREATE DOMAIN doc AS jsonb;
    CREATE TABLE bags (id int PRIMARY KEY, counts posint[], wrapped posints, money amount[], at stamp[], docs doc[], note text);
    ALTER TABLE bags REPLICA IDENTITY FULL;
    INSERT INTO bags SELECT i, ARRAY[i, i + 1], ARRAY[i], ARRAY[i + 0.5], ARRAY['2024-01-02 03:04:05+00'::timestamptz], ARRAY['{"a": 1}'::jsonb], 'n' FROM generate_series(1, 5) i`, 'domarr-');
  await pipeline(t, env);
  // Rejects only (an oversize row): no item is written, so the run may still be loaded again.
  await db.query(`INSERT INTO bags (id, note) VALUES (99, repeat('x', 500000))`);
  const rejected = await runCli('catchup/cli.ts', ['--json'], env);
  t.is(rejected.code, 0, rejected.stderr);
  const r = JSON.parse(rejected.stdout) as { transactions: number; rejected: number; writes: { puts: number; deletes: number } };
  t.deepEqual([r.transactions, r.rejected, r.writes.puts + r.writes.deletes], [1, 1, 0], rejected.stdout);
  const again = await runCli('load/cli.ts', [], env);
  t.is(again.code, 0, again.stderr);
  await db.query(`DELETE FROM bags WHERE id = 99`);
  await db.query(`UPDATE bags SET counts = '{7,8}', wrapped = '{9}', money = '{2.25}', at = '{"2025-05-06 07:08:09.5+02"}', docs = '{"[1, 2]"}' WHERE id = 2`);
  await db.query(`INSERT INTO bags VALUES (6, '{6}', '{6}', '{6}', '{"2024-01-01 00:00:00+00"}', '{"{}"}', 'new')`);
  const caught = await runCli('catchup/cli.ts', ['--json'], env);
  t.is(caught.code, 0, caught.stderr);
  t.is((await runCli('load/cli.ts', [], env)).code, 1, 'a load after a catchup that wrote is refused');
  const cutover = await runCli('catchup/cutover-cli.ts', ['--writers-stopped', '--json'], env);
  const result = JSON.parse(cutover.stdout || '{}') as { go: boolean; differing: number; compared: number };
  t.true(result.go, cutover.stdout + cutover.stderr);
  const { Items } = await dynamoClient().send(new ScanCommand({ TableName: env.DDB_TABLE }));
  const two = Items!.find((i) => i.data?.M?.id?.N === '2')!.data!.M!;
  t.deepEqual([two.counts, two.wrapped, two.money, two.at, two.docs], [
    { L: [{ N: '7' }, { N: '8' }] }, { L: [{ N: '9' }] }, { L: [{ N: '2.25' }] }, { L: [{ S: '2025-05-06T05:08:09.500000Z' }] }, { L: [{ L: [{ N: '1' }, { N: '2' }] }] },
  ]);
});
