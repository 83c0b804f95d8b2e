// Issue 5, bad and hostile input: table names with quotes, dots and
// semicolons, STORE paths with `..`, run ids with `/` are refused without
// touching the database; extract's transaction cannot write; and data that a
// UTF8 server can hold but DynamoDB keys cannot (control characters, empty key
// parts) is carried or rejected with counts that reconcile.
//
// Invalid UTF-8 and NUL bytes cannot be tested end to end: a UTF8 PostgreSQL
// server refuses both on input (text cannot hold U+0000, and every string is
// validated as UTF-8), so COPY can never produce them. What can come out is
// tested here: the C0 controls next to U+0000, DEL, and U+2028/9. Numbers
// outside DynamoDB's range, empty jsonb keys and deep nesting are in the golden
// fixture already (fixtures/hard-values.ts, test/golden.test.ts).
import test from 'ava';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { exportSnapshot, joinSnapshot } from '../extract/snapshot.ts';
import { runExtract } from '../extract/extract.ts';
import { openStorage } from '../lib/storage.ts';
import { readTransformManifest } from '../lib/transform-manifest.ts';
import { runCli } from './cli.ts';
import { exitOutcome, recordFault } from './fault-table.ts';
import { freshDatabase, stackEnv } from './stack.ts';

const tempDir = () => mkdtemp(path.join(os.tmpdir(), 'pg2ddb-hostile-'));

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try { return await fn(client); } finally { await client.end(); }
}

/** Every table with its row count and a hash of its content: equal before and after means untouched. */
const fingerprint = (url: string) => withClient(url, async (c) => (await c.query(
  `SELECT c.relname::text AS name, (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text AS rows,
          (xpath('/row/h/text()', query_to_xml(format('SELECT md5(coalesce(string_agg(t::text, '','' ORDER BY t::text), '''')) AS h FROM %I.%I t', n.nspname, c.relname), false, true, '')))[1]::text AS hash
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY 1`)).rows);

test('hostile TABLE, STORE and RUN values are refused in one line, write nothing and leave the database untouched', async (t) => {
  t.timeout(60_000);
  const env = stackEnv();
  const url = await freshDatabase(t);
  const before = await fingerprint(url);
  const store = await tempDir();
  const cases: { env: Record<string, string>; error: RegExp }[] = [
    { env: { TABLE: 'users"; DROP TABLE users; --' }, error: /^extract: error: no such table: "users\\"; DROP TABLE users; --"; tables in public: / },
    { env: { TABLE: "users' OR '1'='1" }, error: /^extract: error: no such table: "users' OR '1'='1"; / },
    { env: { TABLE: 'public.users;' }, error: /^extract: error: no such table: "public\.users;"; / },
    { env: { TABLE: 'pg_catalog.pg_authid' }, error: /^extract: error: no such table: "pg_catalog\.pg_authid"; / },
    { env: { TABLE: '"users"' }, error: /^extract: error: no such table: "\\"users\\""; / },
    { env: { STORE: `s3://${env.S3_BUCKET}/runs/../../elsewhere` }, error: /^extract: error: invalid storage key "runs\/\.\.\/\.\.\/elsewhere"/ },
    { env: { RUN: 'a/b' }, error: /^extract: error: invalid run id "a\/b": / },
    { env: { RUN: '..' }, error: /^extract: error: invalid run id "\.\.": / },
    { env: { RUN: '../../etc' }, error: /^extract: error: invalid run id "\.\.\/\.\.\/etc": / },
  ];
  await Promise.all(cases.map(async (c) => {
    const result = await runCli('extract/cli.ts', ['--quiet'], { ...env, DATABASE_URL: url, STORE: store, RUN: 'r', ...c.env });
    t.is(result.code, 1, JSON.stringify(c.env));
    t.regex(result.stderr, c.error, JSON.stringify(c.env));
    t.is(result.stderr.trim().split('\n').length, 1, `${JSON.stringify(c.env)}: one line`);
    recordFault(t, { fault: Object.entries(c.env).map(([k, v]) => `${k}=${v}`).join(' '), stage: 'extract', outcome: exitOutcome(result, { [store]: '<store>' }) });
  }));
  // A run id with '/' is refused by the later stages too.
  await Promise.all(['transform/cli.ts', 'load/cli.ts', 'verify/cli.ts'].map(async (script) => {
    const result = await runCli(script, ['--quiet'], { ...env, DATABASE_URL: url, STORE: store, RUN: 'a/b' });
    t.is(result.code, 1, script);
    t.regex(result.stderr, /invalid run id "a\/b"/, script);
    recordFault(t, { fault: 'RUN=a/b', stage: script === 'verify/cli.ts' ? 'verify' : path.dirname(script), outcome: exitOutcome(result) });
  }));
  t.deepEqual(await readdir(store), [], 'nothing written under the store');
  const after = await fingerprint(url);
  t.deepEqual(after, before, 'every table has the same rows');
  recordFault(t, { fault: 'the database after every hostile argument', stage: 'extract', outcome: 'untouched', identical: isDeepStrictEqual(after, before) });
});

test("extract's coordinator and worker transactions are read-only: INSERT, UPDATE and CREATE fail with 25006", async (t) => {
  const url = await freshDatabase(t);
  const before = await fingerprint(url);
  const snapshot = await exportSnapshot(url);
  t.teardown(() => snapshot.close().catch(() => {}));
  const worker = await joinSnapshot(url, snapshot.id);
  t.teardown(() => worker.end().catch(() => {}));
  const refusals: string[] = [];
  const writes = [
    `INSERT INTO public.schema_versions (version) VALUES ('hostile')`,
    `UPDATE public.users SET name = 'x'`,
    `CREATE TABLE public.planted (x int)`,
  ];
  for (const [name, client] of [['worker', worker], ['coordinator', snapshot.client]] as const) {
    for (const sql of writes) {
      // Each in a savepoint, so one refusal does not abort the transaction for the next.
      await client.query('SAVEPOINT probe');
      const err = await client.query(sql).then(() => undefined, (e: { code?: string; message?: string }) => e);
      await client.query('ROLLBACK TO SAVEPOINT probe');
      t.is(err?.code, '25006', `${name}: ${sql} → ${err?.message ?? 'succeeded'}`);
      refusals.push(err?.code ?? 'succeeded');
    }
    // Nor can the transaction be switched to read-write once it has its snapshot.
    const flip = await client.query('SET TRANSACTION READ WRITE').then(() => undefined, (e: { code?: string }) => e);
    t.truthy(flip?.code, `${name}: SET TRANSACTION READ WRITE refused`);
  }
  await worker.end();
  await snapshot.close();
  const after = await fingerprint(url);
  t.deepEqual(after, before);
  recordFault(t, {
    fault: 'INSERT/UPDATE/CREATE in extract\'s transactions', stage: 'extract',
    outcome: `refused: ${[...new Set(refusals)].join(', ')} (${refusals.length} writes)`, identical: isDeepStrictEqual(after, before),
  });
});

test('control characters round-trip exactly; an empty key part is rejected with a reason; counts reconcile', async (t) => {
  t.timeout(60_000);
  const url = await freshDatabase(t);
  const controls = 'a\u0001b\u0002\t\r\n\u000b\u000c\u001b\u001f\u007f\u0085\u2028\u2029z "q" \\ ,';
  const user = await withClient(url, async (c) => {
    await c.query(`INSERT INTO subscription_tiers (tier_name, medical_reports) VALUES ('', false)`);
    return (await c.query(`UPDATE users SET given_name = $1 WHERE id = (SELECT id FROM users ORDER BY id LIMIT 1) RETURNING id::text`, [controls])).rows[0].id as string;
  });
  const store = await tempDir();
  await runExtract({ databaseUrl: url, store, run: 'r', concurrency: 4, schemas: ['public'], gzipLevel: 1, log: () => {} });
  const result = await runCli('transform/cli.ts', ['--quiet'], { STORE: store, RUN: 'r' });
  t.is(result.code, 0, result.stderr);
  const run = openStorage(store).sub('r');
  const manifest = (await readTransformManifest(run))!;
  for (const table of manifest.tables) t.is(table.rows_in, table.items_out + table.rejected + table.dropped, table.name);

  const users = gunzipSync(await readFile(path.join(store, 'r', 'items', 'users', 'part-00000.json.gz'))).toString('utf8').split('\n').filter(Boolean);
  const item = users.map((l) => JSON.parse(l).Item).find((i) => i.PK.S === `USER#${user}`);
  t.is(item.data.M.given_name.S, controls, 'the text arrives byte for byte');
  t.is(users.length, manifest.tables.find((x) => x.name === 'users')!.items_out, 'one line per item: no raw newline split a line');

  const tiers = manifest.tables.find((x) => x.name === 'subscription_tiers')!;
  t.is(tiers.rejected, 1);
  const [reject] = ((await run.getText('transform/rejects/subscription_tiers.jsonl')) ?? '').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  t.like(reject, { table: 'subscription_tiers', column: 'tier_name', primary_key: { tier_name: '' } });
  t.regex(reject.reason, /tier_name is empty/);
  const { rows_in, items_out, rejected } = manifest.totals;
  recordFault(t, {
    fault: 'control characters in text, an empty key part', stage: 'transform', outcome: `${exitOutcome(result)}, empty key rejected with a reason`,
    rows_in, items_out, rejected, identical: item.data.M.given_name.S === controls,
  });
});

test('a table whose row-level security would hide rows from the extract\'s role fails the extract by name; it is never copied short', async (t) => {
  t.timeout(90_000);
  const env = stackEnv();
  const admin = new pg.Client({ connectionString: env.PG_ADMIN_URL });
  await admin.connect();
  const role = `rls_${Math.random().toString(36).slice(2, 10)}`;
  await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'rls-pass'`);
  // Teardowns run last-registered first: the database goes before its role.
  t.teardown(async () => { await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {}); await admin.end(); });
  const url = await freshDatabase(t, { load: false });
  await withClient(url, (c) => c.query(`CREATE TABLE notes (id int PRIMARY KEY, owner text NOT NULL, body text);
    INSERT INTO notes SELECT g, CASE WHEN g % 2 = 0 THEN 'alice' ELSE 'bob' END, 'n' || g FROM generate_series(1, 100) g;
    ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
    CREATE POLICY own ON notes FOR SELECT USING (owner = 'alice');
    GRANT USAGE ON SCHEMA public TO ${role}; GRANT SELECT ON notes TO ${role}`));
  const roleUrl = new URL(url);
  roleUrl.username = role;
  roleUrl.password = 'rls-pass';
  const store = await tempDir();
  const result = await runCli('extract/cli.ts', ['--quiet'], { DATABASE_URL: roleUrl.href, STORE: store, RUN: 'r' });
  const manifest = await openStorage(store).sub('r').getText('extract/manifest.json');
  const rows = manifest ? (JSON.parse(manifest) as { tables: { name: string; rows: number }[] }).tables.find((x) => x.name === 'notes')?.rows : undefined;
  t.is(result.code, 1, `exit ${result.code}: notes copied with ${rows} of its 100 rows`);
  t.regex(result.stderr, /row-level security/);
  t.regex(result.stderr, /notes/);
  t.is(manifest, undefined, 'no manifest');
  recordFault(t, { fault: 'row-level security hiding half a table from the extract\'s role', stage: 'extract', outcome: exitOutcome(result, { [store]: '<store>' }) });
});
