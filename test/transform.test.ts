// The transform stage on real extracts of the local stack's PostgreSQL.
import test from 'ava';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import pg from 'pg';
import { BatchWriteItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { runExtract } from '../extract/extract.ts';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { readTransformManifest } from '../lib/transform-manifest.ts';
import { openStorage } from '../lib/storage.ts';
import { runTransform } from '../transform/runner.ts';
import { REPO, runCli, cliArgv } from './cli.ts';
import { recordFault } from './fault-table.ts';
import { freshBucketPrefix, freshDatabase, freshDynamoTable, stackEnv } from './stack.ts';

const quiet = () => {};
const tempDir = () => mkdtemp(path.join(os.tmpdir(), 'pg2ddb-transform-test-'));

async function extracted(url: string, tables?: string[], store?: string): Promise<string> {
  const dir = store ?? (await tempDir());
  await runExtract({ databaseUrl: url, store: dir, run: 'r', concurrency: 4, schemas: ['public'], gzipLevel: 1, log: quiet, tables });
  return dir;
}

const transform = (store: string, extra: Partial<Parameters<typeof runTransform>[0]> = {}) =>
  runTransform({ store, run: 'r', concurrency: 1, gzipLevel: 1, unmapped: 'fail', dropExpired: false, log: quiet, ...extra });

/** sha256 of every file a transform publishes for load: the items and the manifest. */
async function outputs(store: string): Promise<Record<string, string>> {
  const run = openStorage(store).sub('r');
  const files = [...(await run.list('items')).map((o) => o.key), 'transform/manifest.json'];
  const out: Record<string, string> = {};
  for (const key of files) out[key] = createHash('sha256').update(await readFile(path.join(store, 'r', key))).digest('hex');
  return out;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try { return await fn(client); } finally { await client.end(); }
}

async function items(store: string, table: string): Promise<{ PK: { S: string }; SK: { S: string }; data: { M: Record<string, { S?: string }> } }[]> {
  const manifest = (await readTransformManifest(openStorage(store).sub('r')))!;
  const entry = manifest.tables.find((t) => t.name === table)!;
  const lines: string[] = [];
  for (const part of entry.parts) lines.push(...gunzipSync(await readFile(path.join(store, 'r', part.key))).toString('utf8').split('\n').filter(Boolean));
  return lines.map((l) => JSON.parse(l).Item);
}

test('concurrency 1 and 4 (worker threads) give byte-identical items and manifest', async (t) => {
  const url = await freshDatabase(t);
  const one = await extracted(url);
  const four = await tempDir();
  await cp(path.join(one, 'r', 'extract'), path.join(four, 'r', 'extract'), { recursive: true });
  await transform(one, { concurrency: 1 });
  await transform(four, { concurrency: 4 });
  const [a, b] = [await outputs(one), await outputs(four)];
  t.true(Object.keys(a).length > 16);
  t.deepEqual(a, b);
});

test('item files are in a seeded shuffled order, not key order, and a forced rerun writes the same bytes', async (t) => {
  const url = await freshDatabase(t, { scale: 0.004 });
  const store = await extracted(url);
  const first = await transform(store);
  const before = await outputs(store);
  const largest = [...first.tables].sort((a, b) => b.items_out - a.items_out)[0]!;
  t.true(largest.items_out >= 1000, `${largest.name} has ${largest.items_out} items`);
  // AWS's import guide: items in key order make a rolling hot partition. Shuffled, about half
  // the neighbouring lines ascend; in the extract's primary-key order nearly all would.
  const keys = (await items(store, largest.name)).map((i) => Buffer.from(`${i.PK.S}\0${i.SK.S}`));
  const ascending = keys.filter((key, i) => i > 0 && Buffer.compare(keys[i - 1]!, key) < 0).length / (keys.length - 1);
  t.true(ascending > 0.3 && ascending < 0.7, `${largest.name}: ${(ascending * 100).toFixed(1)}% of neighbouring lines in key order`);
  await transform(store, { force: true });
  t.deepEqual(await outputs(store), before, 'the same permutation on a rerun');
});

test('a transform killed with SIGKILL at several points, then rerun, ends byte-identical to an uninterrupted run', async (t) => {
  t.timeout(180_000);
  const url = await freshDatabase(t, { scale: 0.004 });
  const reference = await extracted(url);
  const killed = await tempDir();
  await cp(path.join(reference, 'r', 'extract'), path.join(killed, 'r', 'extract'), { recursive: true });
  // A CLI like the runs it is compared with: the build's code version is in the manifest's fingerprints.
  const uninterrupted = await runCli('transform/cli.ts', ['--store', reference, '--run', 'r', '--concurrency', '2', '--quiet'], {});
  t.is(uninterrupted.code, 0, uninterrupted.stderr);

  const unitRecords = async () => {
    const dir = path.join(killed, 'r', 'transform', 'units');
    const tables = await readdir(dir).catch(() => [] as string[]);
    let n = 0;
    for (const table of tables) n += (await readdir(path.join(dir, table))).filter((f) => /^part-\d+\.json$/.test(f)).length;
    return n;
  };
  // Kill after ever more units are done, and once at a fixed delay mid-unit.
  const kills: { afterUnits?: number; afterMs?: number }[] = [{ afterMs: 1500 }, { afterUnits: 2 }, { afterUnits: 6 }, { afterUnits: 11 }];
  let interrupted = 0;
  for (const kill of kills) {
    const child = spawn(process.execPath, cliArgv('transform/cli.ts', ['--store', killed, '--run', 'r', '--concurrency', '2', '--quiet']), {
      cwd: REPO, env: { ...process.env, TABLE: '' }, stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let finished = false;
    void exited.then(() => { finished = true; });
    const started = Date.now();
    while (!finished) {
      if (kill.afterMs !== undefined && Date.now() - started >= kill.afterMs) break;
      if (kill.afterUnits !== undefined && (await unitRecords()) >= kill.afterUnits) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    if (!finished) { child.kill('SIGKILL'); interrupted++; }
    await exited;
  }
  t.true(interrupted >= 2, `at least two runs were killed mid-way (${interrupted})`);
  const rerun = await runCli('transform/cli.ts', ['--store', killed, '--run', 'r', '--concurrency', '2'], {});
  t.is(rerun.code, 0, rerun.stderr);
  const identical = JSON.stringify(await outputs(killed)) === JSON.stringify(await outputs(reference));
  t.deepEqual(await outputs(killed), await outputs(reference));
  const summary = JSON.parse(rerun.stdout).totals;
  recordFault(t, { fault: `SIGKILL at ${kills.length} points (${interrupted} mid-run)`, stage: 'transform', outcome: 'killed; rerun completed', rows_in: summary.rows_in, items_out: summary.items_out, rejected: summary.rejected, identical });
});

test('NULL keys, an oversize row and three pairs of rows sharing a (PK, SK) are rejected or reported, and the counts reconcile', async (t) => {
  const url = await freshDatabase(t, { fixture: 'hostile' });
  const facts = await withClient(url, async (c) => {
    const user = (await c.query(`SELECT id::text FROM users ORDER BY id LIMIT 1`)).rows[0].id as string;
    // Three consents repeated: their duplicates are on lines of one item file, each named with its own key.
    const consents = (await c.query(`SELECT id::text, user_id::text, consent_type::text FROM consent_records WHERE user_id IS NOT NULL AND consent_type IS NOT NULL ORDER BY id LIMIT 3`)).rows;
    const content = (await c.query(`SELECT id::text FROM serenya_content WHERE user_id IS NOT NULL AND created_at IS NOT NULL ORDER BY id LIMIT 1`)).rows[0].id as string;
    await c.query(`INSERT INTO user_devices (id, user_id, device_id, platform) VALUES ('00000000-0000-4000-8000-0000000000d1', NULL, 'orphan-device', 'ios')`);
    await c.query(`UPDATE serenya_content SET content = repeat('x', 500 * 1024) WHERE id = $1`, [content]);
    // The schema's uniqueness is what keeps (PK, SK) unique; without it two consents collide.
    await c.query(`ALTER TABLE consent_records DROP CONSTRAINT IF EXISTS consent_records_user_id_consent_type_key`);
    for (const [i, consent] of consents.entries()) {
      await c.query(`INSERT INTO consent_records (id, user_id, consent_type, consent_given) VALUES ($1, $2, $3, true)`, [`ffffffff-0000-4000-8000-00000000000${i + 1}`, consent.user_id, consent.consent_type]);
    }
    return { user, consents, content };
  });
  const store = await extracted(url);
  const result = await runCli('transform/cli.ts', ['--store', store, '--run', 'r', '--quiet'], {});
  t.is(result.code, 3, 'not ready for load');
  t.regex(result.stderr, /not ready for load: 3 item\(s\) share \(PK, SK\) with another item: see transform\/duplicates\.jsonl/);

  const run = openStorage(store).sub('r');
  const manifest = (await readTransformManifest(run))!;
  t.false(manifest.ready_for_load);
  t.is(manifest.duplicates, 3);
  for (const table of manifest.tables) t.is(table.rows_in, table.items_out + table.rejected + table.dropped, table.name);

  const rejects = async (table: string) => ((await run.getText(`transform/rejects/${table}.jsonl`)) ?? '').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  t.like((await rejects('user_devices')).find((r) => r.primary_key.id === '00000000-0000-4000-8000-0000000000d1'),
    { table: 'user_devices', column: 'user_id', reason: 'PK USER#{user_id}: user_id is NULL' });
  const oversize = (await rejects('serenya_content')).find((r) => r.primary_key.id === facts.content);
  t.truthy(oversize);
  t.regex(oversize.reason, /^item is \d+ bytes by DynamoDB's rules, over the 400 KB limit$/);
  t.true(Number.isInteger(oversize.row) && oversize.row > 0);

  const duplicates = ((await run.getText('transform/duplicates.jsonl')) ?? '').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  t.deepEqual(duplicates.map((d) => `${d.PK} ${d.SK}`).sort(), facts.consents.map((c) => `USER#${c.user_id} CONSENT#${c.consent_type}`).sort());
  for (const duplicate of duplicates) {
    t.is(duplicate.first.table, 'consent_records');
    t.is(duplicate.duplicate.table, 'consent_records');
  }
});

test('on S3, 60 units whose items share a key: the duplicates are listed and the run ends (exit 3), not stuck for a connection', async (t) => {
  t.timeout(240_000);
  const env = stackEnv();
  const url = await freshDatabase(t, { load: false });
  // 60 parts of 5,000 rows (keys files of 120 KB each); the first row of each has the key K#0.
  await withClient(url, (c) => c.query(`CREATE TABLE t (id int PRIMARY KEY, k int); INSERT INTO t SELECT i, CASE WHEN i % 5000 = 1 THEN 0 ELSE i END FROM generate_series(1, 300000) i`));
  const model = await tempDir();
  await writeFile(path.join(model, 'package.json'), '{"type":"module"}\n');
  await writeFile(path.join(model, 't.ts'), "export default { table: 't', entityType: 't', key: { pk: 'K#{k}', sk: 'ROW' } };\n");
  const store = freshBucketPrefix();
  await runExtract({ databaseUrl: url, store, run: 'r', concurrency: 2, schemas: ['public'], gzipLevel: 1, splitRows: 5000, log: quiet });
  // Each unit's keys file was a stream held open through the merge: one of the S3 client's 50 sockets
  // each, so the 51st waited forever and Node exited 13 with no word.
  const result = await runCli('transform/cli.ts', ['--quiet', '--model', model, '--concurrency', '2'], { ...env, STORE: store, RUN: 'r' }, 200_000);
  t.is(result.code, 3, result.stderr);
  t.regex(result.stderr, /59 item\(s\) share \(PK, SK\) with another item/);
  const run = openStorage(store).sub('r');
  t.is((await readTransformManifest(run))!.tables[0]!.parts.length, 60);
  const listed = ((await run.getText('transform/duplicates.jsonl')) ?? '').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  t.deepEqual(listed, Array.from({ length: 59 }, () => ({ PK: 'K#0', SK: 'ROW', first: { table: 't', row: 1 }, duplicate: { table: 't', row: 1 } })));
});

test("the latest subscription is the first item of a descending Query on the user's SUBSCRIPTION# keys", async (t) => {
  const env = stackEnv();
  const url = await freshDatabase(t);
  const store = await extracted(url);
  await transform(store);
  const subscriptions = await items(store, 'subscriptions');
  const ddb = dynamoClient(env);
  const table = await freshDynamoTable(t, ddb, 'subs-');
  for (let i = 0; i < subscriptions.length; i += 25) {
    await ddb.send(new BatchWriteItemCommand({ RequestItems: { [table]: subscriptions.slice(i, i + 25).map((Item) => ({ PutRequest: { Item: Item as never } })) } }));
  }
  const expected = await withClient(url, async (c) => (await c.query(
    `SELECT DISTINCT ON (user_id) user_id::text, id::text FROM subscriptions
      WHERE user_id IS NOT NULL AND start_date IS NOT NULL
      ORDER BY user_id, start_date DESC, id::text COLLATE "C" DESC`)).rows as { user_id: string; id: string }[]);
  t.true(expected.length > 3);
  for (const { user_id, id } of expected) {
    const answer = await ddb.send(new QueryCommand({
      TableName: table, KeyConditionExpression: 'PK = :pk AND begins_with(SK, :sk)',
      ExpressionAttributeValues: { ':pk': { S: `USER#${user_id}` }, ':sk': { S: 'SUBSCRIPTION#' } },
      ScanIndexForward: false, Limit: 1,
    }));
    t.is(answer.Items?.[0]?.data?.M?.id?.S, id, `latest subscription of user ${user_id}`);
  }
});

test('TABLE=users redoes one table and leaves every other output untouched', async (t) => {
  const url = await freshDatabase(t);
  const store = await extracted(url);
  // A CLI like the TABLE= run below: the build's code version is in every unit's fingerprint.
  const whole = await runCli('transform/cli.ts', ['--store', store, '--run', 'r', '--quiet'], {});
  t.is(whole.code, 0, whole.stderr);
  const before = await outputs(store);
  const beforeManifest = (await readTransformManifest(openStorage(store).sub('r')))!;
  const changed = await withClient(url, async (c) => (await c.query(
    `UPDATE users SET given_name = 'Changed' WHERE id = (SELECT id FROM users ORDER BY id LIMIT 1) RETURNING id::text`)).rows[0].id as string);
  await extracted(url, ['users'], store);
  const result = await runCli('transform/cli.ts', ['--store', store, '--run', 'r', '--quiet'], { TABLE: 'users' });
  t.is(result.code, 0, result.stderr);
  const after = await outputs(store);
  for (const key of Object.keys(before)) {
    if (key.startsWith('items/users/') || key === 'transform/manifest.json') t.not(after[key], before[key], key);
    else t.is(after[key], before[key], key);
  }
  const afterManifest = (await readTransformManifest(openStorage(store).sub('r')))!;
  t.deepEqual(afterManifest.tables.filter((x) => x.name !== 'users'), beforeManifest.tables.filter((x) => x.name !== 'users'));
  const user = (await items(store, 'users')).find((i) => i.PK.S === `USER#${changed}`)!;
  t.is(user.data.M.given_name!.S, 'Changed');
});

test('a tampered extract file is refused, naming the file, and nothing is published for it', async (t) => {
  const url = await freshDatabase(t);
  const store = await extracted(url);
  const file = path.join(store, 'r', 'extract', 'users', 'part-00000.csv.gz');
  const csv = gunzipSync(await readFile(file)).toString('utf8');
  await writeFile(file, gzipSync(csv.replace(/\n$/, '\nextra,row\n')));
  const result = await runCli('transform/cli.ts', ['--store', store, '--run', 'r', '--quiet'], { TABLE: 'users' });
  t.is(result.code, 1);
  t.regex(result.stderr, /^transform: error: .*\/r\/extract\/users\/part-00000\.csv\.gz \(table users\): /);
  t.deepEqual(await openStorage(store).sub('r').list('items/users'), []);
});

test('a table no mapper covers fails the run with a list, unless skipped or mapped generically', async (t) => {
  const url = await freshDatabase(t);
  await withClient(url, (c) => c.query(`CREATE TABLE feature_flags (name text PRIMARY KEY, enabled boolean NOT NULL); INSERT INTO feature_flags VALUES ('beta', true), ('dark', false)`));
  const store = await extracted(url);
  const failed = await runCli('transform/cli.ts', ['--store', store, '--run', 'r', '--quiet'], {});
  t.is(failed.code, 1);
  t.is(failed.stderr, 'transform: error: no mapper for table(s): feature_flags; add model/entities/<table>.ts for each, or pass --unmapped skip or --unmapped generic\n');

  const skipped = await transform(store, { unmapped: 'skip' });
  t.like(skipped.tables.find((x) => x.name === 'feature_flags'), { mapping: 'skip', rows_in: 2, items_out: 0, dropped: 2 });

  const generic = await transform(store, { unmapped: 'generic' });
  t.like(generic.tables.find((x) => x.name === 'feature_flags'), { mapping: 'generic', rows_in: 2, items_out: 2 });
  const flags = await items(store, 'feature_flags');
  // Sorted: an item file's lines are in a seeded shuffled order (transform/item-order.ts).
  t.deepEqual(flags.map((i) => [i.PK.S, i.SK.S]).sort(), [['FEATURE_FLAGS#beta', 'FEATURE_FLAGS'], ['FEATURE_FLAGS#dark', 'FEATURE_FLAGS']]);
});

test('two tables with one entity type fail the transform naming both and the fix, a TABLE= rerun included', async (t) => {
  const url = await freshDatabase(t);
  // The generic mapping names its entity after the table: `user` collides with the users mapper's `user`.
  await withClient(url, (c) => c.query(`CREATE TABLE "user" (id int PRIMARY KEY, n text); INSERT INTO "user" SELECT i, 'n' || i FROM generate_series(1, 7) i`));
  const store = await extracted(url);
  const expected = 'transform: error: tables user (generic mapping) and users (model/entities/users.ts) both have entity_type "user", ' +
    'so verify and load --prune could not tell their items apart: add model/entities/user.ts with another entityType, or pass --unmapped skip\n';
  const whole = await runCli('transform/cli.ts', ['--store', store, '--run', 'r', '--quiet', '--unmapped', 'generic'], {});
  t.is(whole.code, 1);
  t.is(whole.stderr, expected);
  const rerun = await runCli('transform/cli.ts', ['--store', store, '--run', 'r', '--quiet', '--unmapped', 'generic'], { TABLE: 'users' });
  t.is(rerun.code, 1);
  t.is(rerun.stderr, expected);
  t.deepEqual(await openStorage(store).sub('r').list('items'), [], 'nothing was written');
  const skipped = await transform(store, { unmapped: 'skip' });
  t.like(skipped.tables.find((x) => x.name === 'user'), { mapping: 'skip', dropped: 7 });
});

test('transform --help explains the stage', async (t) => {
  const result = await runCli('transform/cli.ts', ['--help'], {});
  t.is(result.code, 0);
  for (const word of ['--unmapped', '--drop-expired', '--gzip-level', '--force', 'restartable', 'ImportTable']) t.true(result.stdout.includes(word), word);
});

test('--drop-expired drops exactly the rows whose ttl is before the extract as_of, and counts them', async (t) => {
  const url = await freshDatabase(t);
  const store = await extracted(url);
  const kept = await transform(store);
  const asOf = Date.parse(kept.as_of) / 1000;
  const expired = new Map<string, number>();
  for (const table of kept.tables) {
    for (const item of await items(store, table.name)) {
      const ttl = (item as unknown as { ttl?: { N: string } }).ttl;
      if (ttl && Number(ttl.N) < asOf) expired.set(table.name, (expired.get(table.name) ?? 0) + 1);
    }
  }
  t.true((expired.get('user_sessions') ?? 0) > 0, 'the fixture has expired sessions');
  const dropped = await transform(store, { dropExpired: true });
  for (const table of dropped.tables) {
    const before = kept.tables.find((x) => x.name === table.name)!;
    t.is(table.dropped, expired.get(table.name) ?? 0, table.name);
    t.is(table.items_out, before.items_out - table.dropped, table.name);
    t.is(table.rows_in, table.items_out + table.rejected + table.dropped, table.name);
  }
});

test('on S3, one large table transformed with cores to spare has a helper thread build some of its rows, to one thread\'s item file', async (t) => {
  t.timeout(240_000);
  const env = stackEnv();
  const url = await freshDatabase(t, { load: false });
  // ~25 MB of CSV in one part: over the helper's 16 MB.
  await withClient(url, (c) => c.query(`CREATE TABLE t (id int PRIMARY KEY, k int, note text); INSERT INTO t SELECT i, i % 977, repeat(md5(i::text), 2) FROM generate_series(1, 300000) i`));
  const model = await tempDir();
  await writeFile(path.join(model, 'package.json'), '{"type":"module"}\n');
  await writeFile(path.join(model, 't.ts'), "export default { table: 't', entityType: 't', key: { pk: 'K#{k}', sk: 'ID#{id}' } };\n");
  const store = freshBucketPrefix();
  await runExtract({ databaseUrl: url, store, run: 'r', concurrency: 2, schemas: ['public'], gzipLevel: 1, log: quiet });
  const run = openStorage(store).sub('r');
  const hashes: string[] = [];
  for (const concurrency of ['1', '2']) {
    const result = await runCli('transform/cli.ts', ['--model', model, '--concurrency', concurrency, '--force', '--json'], { ...env, STORE: store, RUN: 'r' }, 200_000);
    t.is(result.code, 0, result.stderr);
    t.is(result.stderr.includes('a helper thread builds some of its rows'), concurrency === '2', result.stderr);
    t.false(result.stderr.includes('the helper thread failed'), result.stderr);
    const manifest = (await readTransformManifest(run))!;
    hashes.push(manifest.tables[0]!.parts[0]!.sha256);
  }
  t.is(hashes[1], hashes[0]);
});
