// The extract stage against the local stack's PostgreSQL and S3.
import test, { type ExecutionContext } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { parseString } from 'fast-csv';
import { runExtract } from '../extract/extract.ts';
import { runTransform } from '../transform/runner.ts';
import { readExtractManifest, type ExtractManifest } from '../lib/manifest.ts';
import { openStorage } from '../lib/storage.ts';
import { committedDumps, extractDumps } from '../scripts/dumps.ts';
import { runCli } from './cli.ts';
import { freshDatabase, stackEnv } from './stack.ts';
import { EXTRACT_MANIFEST_KEY } from '../lib/run-layout.ts';
import { LOCKS_PREFIX } from '../lib/run-lock.ts';

const SERENYA_TABLES = [
  'audit_event_summaries', 'audit_events', 'biometric_registrations', 'chat_messages', 'chat_options',
  'consent_records', 'payments', 'processing_job_events', 'processing_jobs', 'schema_versions',
  'serenya_content', 'subscription_tiers', 'subscriptions', 'user_devices', 'user_sessions', 'users',
];

const quiet = () => {};
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const tempDir = () => mkdtemp(path.join(os.tmpdir(), 'pg2ddb-extract-test-'));

async function extractTo(databaseUrl: string, store: string, run = 'r', extra: { tables?: string[]; concurrency?: number } = {}): Promise<ExtractManifest> {
  await runExtract({ databaseUrl, store, run, concurrency: extra.concurrency ?? 4, schemas: ['public'], gzipLevel: 1, log: quiet, tables: extra.tables });
  return (await readExtractManifest(openStorage(store).sub(run)))!;
}

/** Each table of the split run at `split`, its parts joined (the header line once), is the one-part run's file at `whole`. */
async function assertPartsAddUp(t: ExecutionContext, split: string, parts: ExtractManifest, whole: string, one: ExtractManifest): Promise<void> {
  for (const entry of parts.tables) {
    const text = (await Promise.all(entry.parts.map(async (p) => gunzipSync(await readFile(path.join(split, 'r', p.key))).toString())));
    const joined = text.map((x, i) => (i === 0 ? x : x.slice(x.indexOf('\n') + 1))).join('');
    const unsplit = gunzipSync(await readFile(path.join(whole, 'r', one.tables.find((e) => e.name === entry.name)!.parts[0]!.key))).toString();
    t.is(joined, unsplit, `${entry.name}: parts add up`);
  }
}

/** The item lines of run r's parts `keys` in `store`, sorted: each part is shuffled by its own seed (transform/item-order.ts). */
async function sortedItems(store: string, keys: string[]): Promise<string> {
  return (await Promise.all(keys.map(async (k) => gunzipSync(await readFile(path.join(store, 'r', k))).toString())))
    .join('').split('\n').sort().join('\n');
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try { return await fn(client); } finally { await client.end(); }
}

async function readCsv(store: string, run: string, manifest: ExtractManifest, table: string): Promise<string[][]> {
  const entry = manifest.tables.find((t) => t.name === table)!;
  const text = gunzipSync(await readFile(path.join(store, run, entry.parts[0]!.key))).toString('utf8');
  return new Promise((resolve, reject) => {
    const rows: string[][] = [];
    parseString(text, { headers: false }).on('data', (r: string[]) => rows.push(r)).on('end', () => resolve(rows)).on('error', reject);
  });
}

test('the fixture database extracts every table, with row counts and hashes that match the files', async (t) => {
  const url = await freshDatabase(t);
  const store = await tempDir();
  const manifest = await extractTo(url, store);
  t.deepEqual(manifest.tables.map((e) => e.name), SERENYA_TABLES);
  t.true(manifest.consistent);
  t.regex(manifest.as_of, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  t.like(manifest.settings, { TimeZone: 'UTC', DateStyle: 'ISO, YMD', IntervalStyle: 'iso_8601', bytea_output: 'hex', client_encoding: 'UTF8' });
  const counts = await withClient(url, async (c) => {
    const out = new Map<string, number>();
    for (const table of SERENYA_TABLES) out.set(table, Number((await c.query(`SELECT count(*) FROM "${table}"`)).rows[0].count));
    return out;
  });
  for (const entry of manifest.tables) {
    t.is(entry.rows, counts.get(entry.name) ?? -1, `${entry.name} rows`);
    t.true(entry.rows > 0, `${entry.name} has fixture rows`);
    const [part] = entry.parts;
    const stored = await readFile(path.join(store, 'r', part!.key));
    t.is(sha256(stored), part!.sha256, `${entry.name} sha256`);
    t.is(stored.length, part!.bytes);
    const raw = gunzipSync(stored);
    t.is(sha256(raw), part!.raw_sha256, `${entry.name} raw sha256`);
    t.is(raw.length, part!.raw_bytes);
  }
  const audit = manifest.tables.find((e) => e.name === 'audit_events')!;
  t.like(audit.columns.find((c) => c.name === 'retention_expiry_date'), { type: 'date', generated: true });
  const content = manifest.tables.find((e) => e.name === 'serenya_content')!;
  t.like(content.columns.find((c) => c.name === 'medical_flags'), { type: 'text[]', category: 'A', element_type: 'text' });
  t.deepEqual(manifest.tables.find((e) => e.name === 'subscription_tiers')!.primary_key, ['tier_name']);
});

test('two extracts of the same data are byte-identical, whatever the concurrency', async (t) => {
  const url = await freshDatabase(t);
  const [a, b] = [await tempDir(), await tempDir()];
  const first = await extractTo(url, a, 'one', { concurrency: 4 });
  const second = await extractTo(url, b, 'two', { concurrency: 1 });
  const parts = (m: ExtractManifest) => m.tables.map((e) => ({ name: e.name, parts: e.parts }));
  t.deepEqual(parts(first), parts(second));
  t.not(first.snapshot_id, second.snapshot_id);
});

for (const kind of ['realistic', 'hostile'] as const) {
  const dir = kind === 'hostile' ? 'fixtures/hostile/dumps' : 'fixtures/dumps';
  test(`a fresh extract of the ${kind} fixture database equals the committed ${dir} (make dumps rewrites them)`, async (t) => {
    const url = await freshDatabase(t, { fixture: kind });
    const [fresh, committed] = await Promise.all([extractDumps(url), committedDumps(kind)]);
    t.deepEqual([...fresh.keys()].sort(), [...committed.keys()].sort());
    for (const [file, csv] of fresh) {
      const expected = committed.get(file)!;
      if (!csv.equals(expected)) {
        const got = csv.toString('utf8').split('\n');
        const want = expected.toString('utf8').split('\n');
        const line = got.findIndex((l, i) => l !== want[i]);
        t.fail(`${dir}/${file} differs from a fresh extract at line ${line + 1}:\n- ${want[line]}\n+ ${got[line]}\n(run make dumps if the fixture changed on purpose)`);
      } else {
        t.pass();
      }
    }
  });
}

test('objects written through S3 read back with the sha256 the manifest gives', async (t) => {
  const env = stackEnv();
  const url = await freshDatabase(t);
  const store = `s3://${env.S3_BUCKET}/extract-test-${randomBytes(4).toString('hex')}`;
  const manifest = await extractTo(url, store);
  const run = openStorage(store).sub('r');
  const listed = await run.list('extract');
  t.deepEqual(listed.map((o) => o.key), [...manifest.tables.map((e) => e.parts[0]!.key), EXTRACT_MANIFEST_KEY].sort());
  for (const entry of manifest.tables) {
    const part = entry.parts[0]!;
    const chunks: Buffer[] = [];
    for await (const chunk of await run.get(part.key)) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    t.is(sha256(body), part.sha256, `${entry.name} stored bytes`);
    t.is(sha256(gunzipSync(body)), part.raw_sha256, `${entry.name} content`);
  }
  // The same snapshot content lands in S3 and on disk with the same bytes.
  const local = await extractTo(url, await tempDir());
  t.deepEqual(local.tables.map((e) => e.parts[0]!.raw_sha256), manifest.tables.map((e) => e.parts[0]!.raw_sha256));
});

test('TABLE= reruns one table and leaves every other manifest entry as it was', async (t) => {
  const url = await freshDatabase(t);
  const store = await tempDir();
  const before = await extractTo(url, store);
  await withClient(url, (c) => c.query(`UPDATE users SET given_name = 'Renamed' WHERE id = (SELECT min(id::text)::uuid FROM users)`));
  const result = await runCli('extract/cli.ts', ['--quiet'], { DATABASE_URL: url, STORE: store, RUN: 'r', TABLE: 'users' });
  t.is(result.code, 0, result.stderr);
  const summary = JSON.parse(result.stdout);
  t.deepEqual(summary.tables.map((x: { name: string }) => x.name), ['users']);
  const after = (await readExtractManifest(openStorage(store).sub('r')))!;
  t.is(after.as_of, before.as_of);
  t.false(after.consistent);
  for (const entry of after.tables) {
    const old = before.tables.find((e) => e.name === entry.name)!;
    if (entry.name === 'users') {
      t.not(entry.parts[0]!.raw_sha256, old.parts[0]!.raw_sha256);
      t.not(entry.snapshot_id, old.snapshot_id);
    } else {
      t.deepEqual(entry, old);
    }
  }
});

test('two TABLE= extracts of one run at once: the second is refused in one line naming the first, so neither write of the manifest loses the other\'s table', async (t) => {
  t.timeout(120_000);
  const url = await freshDatabase(t);
  const store = await tempDir();
  const run = openStorage(store).sub('r');
  const before = await extractTo(url, store);
  await withClient(url, (c) => c.query(`UPDATE users SET given_name = 'Renamed' WHERE id = (SELECT min(id::text)::uuid FROM users)`));
  await withClient(url, (c) => c.query(`UPDATE payments SET amount = amount + 1 WHERE id = (SELECT min(id::text)::uuid FROM payments)`));
  // The first extract holds the run's lock while it waits for a table another session has locked.
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  t.teardown(() => holder.end().catch(() => {}));
  await holder.query('BEGIN; LOCK TABLE payments IN ACCESS EXCLUSIVE MODE');
  const first = runExtract({ databaseUrl: url, store, run: 'r', concurrency: 2, schemas: ['public'], gzipLevel: 1, log: quiet, tables: ['payments'], lockWaitSeconds: 60 });
  first.catch(() => {});
  for (let i = 0; i < 300 && (await run.list(LOCKS_PREFIX).catch(() => [])).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  const second = await runCli('extract/cli.ts', ['--quiet'], { DATABASE_URL: url, STORE: store, RUN: 'r', TABLE: 'users' });
  t.is(second.code, 1);
  t.is(second.stderr.split('\n').filter(Boolean).length, 1, second.stderr);
  t.regex(second.stderr, /^extract: error: another extract is writing run .*\/r \(TABLE=payments; host .*, pid \d+, started .*\): two at once would each write the manifest without the other's tables; wait for it to end and run this again/);
  await holder.query('COMMIT');
  await first;
  t.deepEqual(await run.list(LOCKS_PREFIX), [], 'the lock is released');
  const rerun = await runCli('extract/cli.ts', ['--quiet'], { DATABASE_URL: url, STORE: store, RUN: 'r', TABLE: 'users' });
  t.is(rerun.code, 0, rerun.stderr);
  const after = (await readExtractManifest(run))!;
  for (const name of ['users', 'payments']) {
    t.not(after.tables.find((e) => e.name === name)!.parts[0]!.raw_sha256, before.tables.find((e) => e.name === name)!.parts[0]!.raw_sha256, `${name}: the new extract is in the manifest`);
  }
});

test('every table comes from one snapshot while other connections write during the extract', async (t) => {
  const url = await freshDatabase(t);
  // A large table that sorts first (largest first) keeps the single worker busy
  // while this test commits writes the later tables must not see.
  await withClient(url, (c) => c.query(`CREATE TABLE aaa_slow AS SELECT g AS id, repeat(md5(g::text), 8) AS pad FROM generate_series(1, 300000) g;
                                        ALTER TABLE aaa_slow ADD PRIMARY KEY (id); ANALYZE aaa_slow`));
  const victim = await withClient(url, async (c) => (await c.query(
    `SELECT s.id::text AS session, s.user_id::text AS user_id, d.id::text AS device FROM user_sessions s JOIN user_devices d ON d.id = s.device_id ORDER BY s.id LIMIT 1`)).rows[0]);
  t.truthy(victim);
  const store = await tempDir();
  const extracting = extractTo(url, store, 'r', { concurrency: 1 });

  const writer = new pg.Client({ connectionString: url });
  await writer.connect();
  t.teardown(() => writer.end());
  const copying = async () => (await writer.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'COPY%aaa_slow%'`)).rows[0].n > 0;
  for (let i = 0; i < 500 && !(await copying()); i++) await new Promise((r) => setTimeout(r, 10));
  t.true(await copying(), 'the slow COPY started');

  const newUser = '00000000-0000-4000-8000-00000000beef';
  await writer.query('BEGIN');
  await writer.query(`INSERT INTO users (id, external_id, auth_provider, email, name) VALUES ($1, 'after-snapshot', 'google', 'late@example.com', 'Late')`, [newUser]);
  await writer.query(`INSERT INTO user_devices (id, user_id, device_id, platform) VALUES ('00000000-0000-4000-8000-00000000d0d0', $1, 'late-device', 'ios')`, [newUser]);
  await writer.query(`DELETE FROM user_sessions WHERE id = $1`, [victim.session]);
  await writer.query(`DELETE FROM user_devices WHERE id = $1`, [victim.device]);
  await writer.query('COMMIT');
  t.true(await copying(), 'the writes committed while the first table was still being copied');

  const manifest = await extracting;
  t.true(manifest.consistent);
  const users = await readCsv(store, 'r', manifest, 'users');
  const devices = await readCsv(store, 'r', manifest, 'user_devices');
  const sessions = await readCsv(store, 'r', manifest, 'user_sessions');
  const userIds = new Set(users.slice(1).map((r) => r[0]));
  const deviceIds = new Set(devices.slice(1).map((r) => r[0]));
  t.false(userIds.has(newUser), 'a user committed after the snapshot is absent');
  t.false(devices.some((r) => r[2] === 'late-device'), 'a device committed after the snapshot is absent');
  t.true(sessions.some((r) => r[0] === victim.session), 'a session deleted after the snapshot is present');
  t.true(deviceIds.has(victim.device), 'a device deleted after the snapshot is present');
  for (const s of sessions.slice(1)) {
    if (s[1]) t.true(userIds.has(s[1]), `session ${s[0]} has its user`);
    if (s[2]) t.true(deviceIds.has(s[2]), `session ${s[0]} has its device`);
  }
});

test('a table without a primary key is ordered by every column and flagged; odd names are quoted', async (t) => {
  const url = await freshDatabase(t, { load: false });
  await withClient(url, (c) => c.query(`
    CREATE SCHEMA "odd schema";
    CREATE TABLE "odd schema"."Ta""ble.x" (id text PRIMARY KEY, v int);
    INSERT INTO "odd schema"."Ta""ble.x" VALUES ('b', 1), ('B', 2), ('a', 3);
    CREATE TABLE public.heap (a text, b int, j json);
    INSERT INTO public.heap VALUES ('z', 1, '{"x":1}'), ('a', 2, '[]'), (NULL, 3, NULL), ('a', 1, '{}');`));
  const store = await tempDir();
  await runExtract({ databaseUrl: url, store, run: 'r', concurrency: 2, schemas: ['public', 'odd schema'], gzipLevel: 1, log: quiet });
  const manifest = (await readExtractManifest(openStorage(store).sub('r')))!;
  const heap = manifest.tables.find((e) => e.name === 'heap')!;
  t.true(heap.no_primary_key);
  t.deepEqual(heap.order_by, ['a', 'b', 'j']);
  t.is(gunzipSync(await readFile(path.join(store, 'r', heap.parts[0]!.key))).toString(), 'a,b,j\na,1,{}\na,2,[]\nz,1,"{""x"":1}"\n,3,\n');
  // The dot inside the table's name is escaped (%2E), so the qualified name says where the schema ends.
  const odd = manifest.tables.find((e) => e.name === 'odd schema.Ta"ble%2Ex')!;
  t.is(odd.parts[0]!.key, 'extract/odd%20schema.Ta%22ble%252Ex/part-00000.csv.gz');
  // COLLATE "C": upper case sorts before lower case whatever the server's locale.
  t.is(gunzipSync(await readFile(path.join(store, 'r', odd.parts[0]!.key))).toString(), 'id,v\nB,2\na,3\nb,1\n');
});

test('money is copied under lc_monetary C, whatever the database\'s default, and the manifest records it', async (t) => {
  const url = await freshDatabase(t, { load: false });
  const database = new URL(url).pathname.slice(1);
  await withClient(url, (c) => c.query(`
    ALTER DATABASE "${database}" SET lc_monetary = 'C.UTF-8';
    CREATE TABLE prices (id int PRIMARY KEY, amount money);
    INSERT INTO prices VALUES (1, '1234.5'), (2, '-0.25')`));
  const store = await tempDir();
  const manifest = await extractTo(url, store);
  t.is(manifest.settings.lc_monetary, 'C');
  const prices = manifest.tables.find((e) => e.name === 'prices')!;
  t.is(gunzipSync(await readFile(path.join(store, 'r', prices.parts[0]!.key))).toString(), 'id,amount\n1,"$1,234.50"\n2,-$0.25\n');
});

test('a TABLE that does not exist fails, lists the real tables and writes nothing', async (t) => {
  const url = await freshDatabase(t);
  const store = await tempDir();
  const result = await runCli('extract/cli.ts', [], { DATABASE_URL: url, STORE: store, TABLE: 'users; DROP TABLE users' });
  t.is(result.code, 1);
  t.regex(result.stderr, /^extract: error: no such table: "users; DROP TABLE users"; tables in public: audit_event_summaries, .*users\n$/);
  await t.throwsAsync(stat(path.join(store, 'dev', EXTRACT_MANIFEST_KEY)));
  const count = await withClient(url, async (c) => (await c.query('SELECT count(*)::int AS n FROM users')).rows[0].n);
  t.true(count > 0);
});

test('an unreachable database and rejected credentials fail in one line without the password', async (t) => {
  const env = stackEnv();
  const store = await tempDir();
  const closed = await runCli('extract/cli.ts', [], { DATABASE_URL: 'postgres://someone:s3cret-pw@127.0.0.1:1/nowhere', STORE: store });
  t.is(closed.code, 1);
  t.is(closed.stderr, 'extract: error: cannot reach PostgreSQL at someone@127.0.0.1:1/nowhere (ECONNREFUSED)\n');

  const server = new URL(env.PG_ADMIN_URL!);
  server.username = 'no_such_role';
  server.password = 's3cret-pw';
  const rejected = await runCli('extract/cli.ts', [], { DATABASE_URL: server.href, STORE: store });
  t.is(rejected.code, 1);
  t.regex(rejected.stderr, /^extract: error: PostgreSQL rejected the credentials for no_such_role@127\.0\.0\.1:\d+\/\S+ \((28P01|28000)\)/);
  t.false((closed.stderr + rejected.stderr + closed.stdout + rejected.stdout).includes('s3cret-pw'));
});

test('a store that cannot be written fails before copying and publishes no manifest', async (t) => {
  const env = stackEnv();
  const url = await freshDatabase(t);
  const dir = await tempDir();
  const file = path.join(dir, 'not-a-dir');
  await writeFile(file, 'x');
  const local = await runCli('extract/cli.ts', [], { DATABASE_URL: url, STORE: file, RUN: 'r' });
  t.is(local.code, 1);
  t.regex(local.stderr, /^extract: error: cannot write file:\/\/.*not-a-dir\/r\/extract\/\.write-check: .*ENOTDIR/);

  const bucket = await runCli('extract/cli.ts', [], { ...env, DATABASE_URL: url, STORE: 's3://no-such-bucket-here/x', RUN: 'r' });
  t.is(bucket.code, 1);
  t.regex(bucket.stderr, /^extract: error: cannot write s3:\/\/no-such-bucket-here\/x\/r\/extract\/\.write-check: bucket no-such-bucket-here does not exist\n$/);

  const badRun = await runCli('extract/cli.ts', [], { DATABASE_URL: url, STORE: dir, RUN: '../escape' });
  t.is(badRun.code, 1);
  t.regex(badRun.stderr, /invalid run id "\.\.\/escape"/);
});

test('extract --help explains the stage and its variables', async (t) => {
  const result = await runCli('extract/cli.ts', ['--help'], {});
  t.is(result.code, 0);
  for (const word of ['--store', '--run', '--table', '--concurrency', '--schema', '--gzip-level', 'DATABASE_URL', 'READ ONLY']) {
    t.true(result.stdout.includes(word), word);
  }
});

test('--split-bytes copies a table larger than it as primary-key ranges whose rows add up to the table, and transform makes the same items of them', async (t) => {
  const url = await freshDatabase(t);
  // About 2 MB on disk: 4,000 rows of 400 bytes (under TOAST's threshold, so the heap holds them).
  await withClient(url, (c) => c.query(`CREATE TABLE wide AS SELECT g AS id, repeat(md5(g::text), 12) || g AS pad FROM generate_series(1, 4000) g;
                                        ALTER TABLE wide ADD PRIMARY KEY (id); ANALYZE`));
  const size = await withClient(url, async (c) => Number((await c.query(`SELECT pg_total_relation_size('wide') AS n`)).rows[0].n));
  const [whole, split] = [await tempDir(), await tempDir()];
  const one = await extractTo(url, whole);
  const env = { DATABASE_URL: url, STORE: split, RUN: 'r' };
  const dryRun = await runCli('extract/cli.ts', ['--dry-run', '--json', '--split-bytes', '512KiB'], env);
  t.is(dryRun.code, 0, dryRun.stderr);
  const extracted = await runCli('extract/cli.ts', ['--quiet', '--split-bytes', '512KiB'], env);
  t.is(extracted.code, 0, extracted.stderr);
  const manifest = (await readExtractManifest(openStorage(split).sub('r')))!;
  const wide = manifest.tables.find((e) => e.name === 'wide')!;
  t.true(wide.parts.length >= 3, `${wide.parts.length} part(s)`);
  t.is(wide.parts.length, Math.ceil(size / (512 * 1024)), `${size} bytes on disk`);
  t.is(JSON.parse(dryRun.stdout).tables.find((x: { name: string }) => x.name === 'wide').parts, wide.parts.length, 'the dry run plans the same parts');
  t.is(wide.rows, 4000);
  t.is(wide.parts.reduce((n, p) => n + p.rows, 0), 4000);
  // Equal rows per part (rounded up to two digits), the last the rest: each about 512 KiB of the table.
  const perPart = wide.parts[0]!.rows;
  t.true(wide.parts.slice(0, -1).every((p) => p.rows === perPart) && wide.parts.at(-1)!.rows <= perPart, JSON.stringify(wide.parts.map((p) => p.rows)));
  await assertPartsAddUp(t, split, manifest, whole, one);
  // One unit per part, and the same item lines as the one-part run (each part is shuffled by its own seed, so compared sorted).
  const transformed = await Promise.all([whole, split].map((store) =>
    runTransform({ store, run: 'r', concurrency: 2, gzipLevel: 1, unmapped: 'generic', dropExpired: false, log: quiet })));
  const [oneWide, splitWide] = transformed.map((x) => x.tables.find((e) => e.name === 'wide')!);
  t.is(splitWide!.parts.length, wide.parts.length);
  t.is(splitWide!.items_out, 4000);
  t.is(await sortedItems(split, splitWide!.parts.map((p) => p.key)), await sortedItems(whole, oneWide!.parts.map((p) => p.key)));
});

test('a part of one row: --split-bytes below a row\'s size (or --split-rows 1) copies each row as its own part, not the whole table as one', async (t) => {
  const url = await freshDatabase(t);
  // A composite text key with a collation other than C: ranges still follow COPY's order.
  await withClient(url, (c) => c.query(`CREATE TABLE tiny (a text COLLATE "en-US-x-icu", b int, pad text, PRIMARY KEY (a, b));
                                        INSERT INTO tiny VALUES ('b', 1, 'é'), ('B', 2, '\u2028'), ('a', 3, 'x'), ('a', 1, 'y'); ANALYZE tiny`).catch(async () =>
    c.query(`CREATE TABLE IF NOT EXISTS tiny (a text, b int, pad text, PRIMARY KEY (a, b));
             INSERT INTO tiny VALUES ('b', 1, 'é'), ('B', 2, 'z'), ('a', 3, 'x'), ('a', 1, 'y'); ANALYZE tiny`)));
  for (const split of [{ splitBytes: 1 }, { splitRows: 1 }]) {
    const store = await tempDir();
    await runExtract({ databaseUrl: url, store, run: 'r', concurrency: 2, schemas: ['public'], gzipLevel: 1, log: quiet, tables: ['tiny'], ...split });
    const tiny = (await readExtractManifest(openStorage(store).sub('r')))!.tables.find((e) => e.name === 'tiny')!;
    t.deepEqual(tiny.parts.map((p) => p.rows), [1, 1, 1, 1], JSON.stringify(split));
  }
});

test('--split-bytes on a table grown since its statistics: parts of about that size, not one per stale row estimate (the run\'s parts would pass ImportTable\'s limit)', async (t) => {
  const url = await freshDatabase(t);
  // Analyzed at 500 rows, then 40 times as large with autovacuum off (as for a bulk load): reltuples still says 500.
  await withClient(url, (c) => c.query(`CREATE TABLE grown (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = false);
                                        INSERT INTO grown SELECT g, repeat('x', 200) FROM generate_series(1, 500) g; ANALYZE grown;
                                        INSERT INTO grown SELECT g, repeat('x', 200) FROM generate_series(501, 20000) g`));
  const size = await withClient(url, async (c) => Number((await c.query(`SELECT pg_total_relation_size('grown') AS n`)).rows[0].n));
  const store = await tempDir();
  await runExtract({ databaseUrl: url, store, run: 'r', concurrency: 2, schemas: ['public'], gzipLevel: 1, log: quiet, tables: ['grown'], splitBytes: 1024 * 1024 });
  const grown = (await readExtractManifest(openStorage(store).sub('r')))!.tables.find((e) => e.name === 'grown')!;
  t.is(grown.rows, 20_000);
  const wanted = Math.ceil(size / (1024 * 1024));
  t.true(grown.parts.length >= wanted - 1 && grown.parts.length <= wanted + 1, `${grown.parts.length} parts for ${size} bytes at 1 MiB each`);
});

test('--split-bytes on a table never analyzed (a bulk load with autovacuum off): split by the planner\'s estimate, not left one part', async (t) => {
  const url = await freshDatabase(t);
  await withClient(url, (c) => c.query(`CREATE TABLE fresh (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = false);
                                        INSERT INTO fresh SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g`));
  const stats = await withClient(url, async (c) => (await c.query(`SELECT reltuples::float8 AS n, pg_total_relation_size(oid)::float8 AS size FROM pg_class WHERE relname = 'fresh'`)).rows[0]);
  t.is(stats.n, -1, 'never analyzed');
  const store = await tempDir();
  await runExtract({ databaseUrl: url, store, run: 'r', concurrency: 2, schemas: ['public'], gzipLevel: 1, log: quiet, tables: ['fresh'], splitBytes: 1024 * 1024 });
  const fresh = (await readExtractManifest(openStorage(store).sub('r')))!.tables.find((e) => e.name === 'fresh')!;
  t.is(fresh.rows, 20_000);
  // The planner guesses rows from the pages and the columns' types, so only roughly the parts asked.
  const wanted = Math.ceil(stats.size / (1024 * 1024));
  t.true(fresh.parts.length >= 2 && fresh.parts.length <= 3 * wanted, `${fresh.parts.length} parts for ${stats.size} bytes at 1 MiB each`);
});

test('--split-rows copies a table as primary-key ranges whose parts add up to the unsplit file', async (t) => {
  const url = await freshDatabase(t);
  await withClient(url, (c) => c.query('ANALYZE'));
  const [whole, split] = [await tempDir(), await tempDir()];
  const one = await extractTo(url, whole);
  await runExtract({ databaseUrl: url, store: split, run: 'r', concurrency: 3, schemas: ['public'], gzipLevel: 1, log: quiet, splitRows: 7 });
  const parts = (await readExtractManifest(openStorage(split).sub('r')))!;
  const users = parts.tables.find((e) => e.name === 'users')!;
  t.is(users.parts.length, Math.ceil(users.rows / 7));
  t.deepEqual(users.parts.map((p) => p.rows), [...Array(users.parts.length - 1).fill(7), users.rows - 7 * (users.parts.length - 1)]);
  t.falsy(users.parts[0]!.range!.from);
  t.falsy(users.parts.at(-1)!.range!.to);
  await assertPartsAddUp(t, split, parts, whole, one);
  // And the items: the split run's item parts hold exactly the unsplit run's item lines (each
  // part is shuffled by its own seed, transform/item-order.ts, so the lines are compared sorted).
  const transformed = await Promise.all([whole, split].map((store) =>
    runTransform({ store, run: 'r', concurrency: 2, gzipLevel: 1, unmapped: 'fail', dropExpired: false, log: quiet })));
  for (const table of transformed[0]!.tables) {
    const other = transformed[1]!.tables.find((x) => x.name === table.name)!;
    t.is(await sortedItems(split, other.parts.map((p) => p.key)), await sortedItems(whole, table.parts.map((p) => p.key)), `${table.name}: same items`);
    t.is(other.items_out, table.items_out);
  }
  t.true(transformed[1]!.tables.find((x) => x.name === 'users')!.parts.length > 1);
});
