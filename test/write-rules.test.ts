// DynamoDB's write-time rules, end to end: a row DynamoDB would refuse is a
// transform reject, so the load writes everything else; and JSON keys special
// to JavaScript travel as ordinary keys from PostgreSQL to DynamoDB and back,
// in batch and import mode. Real PostgreSQL, S3 and DynamoDB Local (which
// enforces the key-size limits on every write).
import test from 'ava';
import { DeleteTableCommand, GetItemCommand } from '@aws-sdk/client-dynamodb';
import pg from 'pg';
import { isDeepStrictEqual } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { runExtract } from '../extract/extract.ts';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { openStorage, type Storage } from '../lib/storage.ts';
import type { TransformManifest } from '../lib/transform-manifest.ts';
import { canonicalValue, fromAttributeValue, type AttributeJson } from '../model/attribute-json.ts';
import { runLoad } from '../load/load.ts';
import { DEFAULT_SETTINGS } from '../model/table-spec.ts';
import { runVerify } from '../verify/verify.ts';
import { runTransform } from '../transform/runner.ts';
import { runCli } from './cli.ts';
import { recordFault } from './fault-table.ts';
import { freshBucketPrefix, freshDatabase, randomName, stackEnv } from './stack.ts';

const quiet = () => {};
const env = stackEnv();
// Fixture items whose ttl has passed would vanish mid-test: TTL stays off.
const SETTINGS = { ...DEFAULT_SETTINGS, deletionProtection: false, ttl: false };

/** A table name for a load to create, deleted when the test ends. */
function tableFor(t: { teardown: (fn: () => Promise<void>) => void }, prefix: string): string {
  const TableName = randomName(prefix);
  t.teardown(async () => {
    const ddb = dynamoClient(env);
    await ddb.send(new DeleteTableCommand({ TableName })).catch(() => {});
    ddb.destroy();
  });
  return TableName;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try { return await fn(client); } finally { await client.end(); }
}

/** extract + transform of `url` into a fresh S3 prefix (ImportTable reads S3 only). */
async function pipeline(url: string): Promise<{ store: string; run: Storage; manifest: TransformManifest }> {
  const store = freshBucketPrefix();
  await runExtract({ databaseUrl: url, store, run: 'r', concurrency: 2, schemas: ['public'], gzipLevel: 1, log: quiet });
  const manifest = await runTransform({ store, run: 'r', concurrency: 1, gzipLevel: 1, unmapped: 'fail', dropExpired: false, log: quiet });
  return { store, run: openStorage(store).sub('r'), manifest };
}

/**
 * Adds a `doc` column of `type` to users, `docs[i]` on the i-th user by id, and runs the pipeline: its
 * outputs, users' manifest entry, and the `doc` attribute of the i-th user's item.
 */
async function docsPipeline(url: string, type: 'json' | 'jsonb', docs: string[]) {
  const ids = await withClient(url, async (c) => {
    await c.query(`ALTER TABLE users ADD COLUMN doc ${type}`);
    const rows = (await c.query(`SELECT id::text FROM users ORDER BY id LIMIT ${docs.length}`)).rows.map((r) => r.id as string);
    for (const [i, doc] of docs.entries()) await c.query(`UPDATE users SET doc = $2::${type} WHERE id = $1`, [rows[i], doc]);
    return rows;
  });
  const { store, run, manifest } = await pipeline(url);
  const users = manifest.tables.find((x) => x.name === 'users')!;
  const text = gunzipSync(Buffer.concat(await (await run.get(users.parts[0]!.key)).toArray())).toString('utf8');
  const doc = (i: number) => JSON.parse(text.split('\n').find((l) => l.includes(`"PK":{"S":"USER#${ids[i]}"}`))!).Item.data.M.doc;
  return { store, manifest, users, doc };
}

async function rejects(run: Storage, table: string): Promise<Record<string, unknown>[]> {
  return ((await run.getText(`transform/rejects/${table}.jsonl`)) ?? '').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

async function verified(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void }, store: string, tableName: string, databaseUrl: string, label: string) {
  const report = await runVerify({ store, run: 'r', tableName, concurrency: 2, databaseUrl, sampleSize: 50, log: quiet });
  t.deepEqual(report.checks.filter((c) => !c.ok).map((c) => c.name), [], `${label}: every verify check passes`);
}

test('keys over DynamoDB\'s UTF-8 limits are transform rejects with their sizes; the rest loads in batch mode and verifies', async (t) => {
  t.timeout(120_000);
  const url = await freshDatabase(t);
  // processing_jobs keys: SK JOB#{job_id}, GSI1SK JOB#{created_at}#{job_id} (4 + 27 + 1 bytes around
  // job_id), GSI2PK JOB#{job_id}; its events' PK is JOB#{the job's job_id}. 'é' is 2 bytes, 'あ' 3.
  const jobs = await withClient(url, async (c) => {
    const rows = (await c.query(`SELECT j.id::text FROM processing_jobs j
      WHERE j.user_id IS NOT NULL AND EXISTS (SELECT 1 FROM processing_job_events e WHERE e.job_id = j.id AND e.created_at IS NOT NULL)
      ORDER BY j.id LIMIT 3`)).rows.map((r) => r.id as string);
    const set = (id: string, jobId: string) => c.query(`UPDATE processing_jobs SET job_id = $2, created_at = '2026-01-02 03:04:05.123456+00' WHERE id = $1`, [id, jobId]);
    await set(rows[0]!, 'é'.repeat(496)); // GSI1SK exactly 1024 bytes (528 characters): loads
    await set(rows[1]!, 'é'.repeat(497)); // GSI1SK 1026 bytes in 529 characters: rejected
    await set(rows[2]!, 'あ'.repeat(700)); // SK 2104 bytes; its events' PK 2104 bytes: all rejected
    const events = Number((await c.query(`SELECT count(*) FROM processing_job_events WHERE job_id = $1`, [rows[2]])).rows[0].count);
    return { fits: rows[0]!, gsiOver: rows[1]!, keyOver: rows[2]!, events };
  });
  t.true(jobs.events > 0);
  const { store, run, manifest } = await pipeline(url);
  for (const table of manifest.tables) t.is(table.rows_in, table.items_out + table.rejected + table.dropped, table.name);
  t.true(manifest.ready_for_load);

  const jobRejects = await rejects(run, 'processing_jobs');
  t.like(jobRejects.find((r) => (r.primary_key as { id: string }).id === jobs.gsiOver), {
    table: 'processing_jobs', column: 'job_id', attribute: 'GSI1SK', bytes: 1026, limit: 1024,
    reason: "GSI1SK JOB#{created_at}#{job_id} is 1026 bytes of UTF-8, over DynamoDB's 1024-byte limit for a sort key",
  });
  t.like(jobRejects.find((r) => (r.primary_key as { id: string }).id === jobs.keyOver), { column: 'job_id', attribute: 'SK', bytes: 2104, limit: 1024 });
  t.falsy(jobRejects.find((r) => (r.primary_key as { id: string }).id === jobs.fits), 'a key at exactly the limit is an item');
  const eventRejects = (await rejects(run, 'processing_job_events')).filter((r) => r.attribute === 'PK');
  t.is(eventRejects.length, jobs.events, "every event of the job whose job_id is 2100 bytes: PK JOB#{client_job_id} is 2104 bytes");
  t.like(eventRejects[0], { column: 'job_id', bytes: 2104, limit: 2048 });
  const rejectText = JSON.stringify([...jobRejects, ...eventRejects]);
  t.false(/éé|ああ/.test(rejectText), 'no reject carries key text');

  const tableName = tableFor(t, 'rules_');
  const report = await runLoad({ store, run: 'r', tableName, mode: 'batch', concurrency: 4, settings: SETTINGS, log: quiet });
  t.true(report.ok);
  t.is(report.totals.written, manifest.totals.items_out, 'DynamoDB Local took every item, the 1024-byte GSI1SK one too');
  const ddb = dynamoClient(env);
  t.teardown(() => ddb.destroy());
  const user = await withClient(url, async (c) => (await c.query(`SELECT user_id::text FROM processing_jobs WHERE id = $1`, [jobs.fits])).rows[0].user_id as string);
  const fits = await ddb.send(new GetItemCommand({ TableName: tableName, Key: { PK: { S: `USER#${user}` }, SK: { S: `JOB#${'é'.repeat(496)}` } }, ConsistentRead: true }));
  t.is(Buffer.byteLength(fits.Item!.GSI1SK!.S!), 1024);
  await verified(t, store, tableName, url, 'batch');
  const { rows_in, items_out, rejected } = manifest.totals;
  recordFault(t, { fault: 'key text over DynamoDB\'s UTF-8 key limits (GSI1SK 1026, SK 2104, PK 2104 bytes)', stage: 'transform', outcome: 'rejected with attribute, bytes and limit; batch load and verify completed', rows_in, items_out, rejected });
});

test('numbers count by DynamoDB\'s base-100 size: an item of 110,000 bigint 120s (440 KB, not 330 KB) is a transform reject; 100,000 load and verify', async (t) => {
  t.timeout(180_000);
  const url = await freshDatabase(t);
  // `120` is 3 bytes (01|20 in base 100), as DynamoDB Local measures it; counted as 2 (its significant
  // digits), the 110,000-element item was 330 KB to the transform and a load failure in DynamoDB.
  const users = await withClient(url, async (c) => {
    await c.query(`ALTER TABLE users ADD COLUMN scores bigint[]`);
    const ids = (await c.query(`SELECT id::text FROM users ORDER BY id LIMIT 2`)).rows.map((r) => r.id as string);
    await c.query(`UPDATE users SET scores = array_fill(120::bigint, ARRAY[110000]) WHERE id = $1`, [ids[0]]);
    await c.query(`UPDATE users SET scores = array_fill(120::bigint, ARRAY[100000]) WHERE id = $1`, [ids[1]]);
    return { over: ids[0]!, fits: ids[1]! };
  });
  const { store, run, manifest } = await pipeline(url);
  for (const table of manifest.tables) t.is(table.rows_in, table.items_out + table.rejected + table.dropped, table.name);
  const userRejects = await rejects(run, 'users');
  const over = userRejects.find((r) => (r.primary_key as { id: string }).id === users.over);
  t.truthy(over, 'the 440 KB item is a reject');
  t.regex(String(over?.reason), /^item is 44\d{4} bytes by DynamoDB's rules, over the 400 KB limit$/);
  t.falsy(userRejects.find((r) => (r.primary_key as { id: string }).id === users.fits), 'the 400,000-byte list fits');

  const tableName = tableFor(t, 'numsz_');
  const report = await runLoad({ store, run: 'r', tableName, mode: 'batch', concurrency: 4, settings: SETTINGS, log: quiet });
  t.true(report.ok);
  t.is(report.totals.written, manifest.totals.items_out, 'DynamoDB Local took every item the transform wrote');
  await verified(t, store, tableName, url, 'batch');
  recordFault(t, { fault: 'an item of 110,000 bigint 120s (3 bytes each in DynamoDB, 2 by significant digits)', stage: 'transform', outcome: 'rejected as over 400 KB; batch load and verify completed', rows_in: manifest.totals.rows_in, items_out: manifest.totals.items_out, rejected: manifest.totals.rejected });
});

test('a json zero DynamoDB cannot read (0e2147483648: the json type keeps it, jsonb refuses it) is kept as S; the rest loads in batch and import mode and verifies', async (t) => {
  t.timeout(180_000);
  const url = await freshDatabase(t);
  const docs = ['{"ok":0e2147483647,"z":0e2147483648}', '[0.0e-2147483647]'];
  const { store, manifest, users, doc } = await docsPipeline(url, 'json', docs);
  t.is(users.rejected, 0);
  t.is(users.warnings.doc, 2, 'both values counted as warnings');
  for (const [i, text] of docs.entries()) t.deepEqual(doc(i), { S: text });
  const batchTable = tableFor(t, 'zerob_');
  const report = await runLoad({ store, run: 'r', tableName: batchTable, mode: 'batch', concurrency: 4, settings: SETTINGS, log: quiet });
  t.true(report.ok);
  t.is(report.totals.written, manifest.totals.items_out);
  await verified(t, store, batchTable, url, 'batch');
  const importTable = tableFor(t, 'zeroi_');
  const loaded = await runCli('load/cli.ts', ['--mode', 'import', '--poll-seconds', '0.2', '--no-deletion-protection', '--no-ttl'], { ...env, STORE: store, RUN: 'r', DDB_TABLE: importTable });
  t.is(loaded.code, 0, loaded.stderr);
  await verified(t, store, importTable, url, 'import');
  recordFault(t, { fault: 'json numbers 0e2147483648 and 0.0e-2147483647 (DynamoDB: cannot be converted into a number)', stage: 'transform', outcome: 'kept as S with a warning; batch and import loads and verify completed', rows_in: manifest.totals.rows_in, items_out: manifest.totals.items_out, rejected: manifest.totals.rejected });
});

test('a jsonb key over 50,000 bytes (DynamoDB Local refuses the map key) keeps its value as S; a 50,000-byte key stays a map; the load and verify complete', async (t) => {
  t.timeout(180_000);
  const url = await freshDatabase(t);
  const docs = [`{"${'k'.repeat(50_001)}":1}`, `{"${'é'.repeat(25_000)}":2}`];
  const { store, manifest, users, doc } = await docsPipeline(url, 'jsonb', docs);
  t.is(users.rejected, 0);
  t.is(users.warnings.doc, 1, 'the 50,001-byte key is a warning');
  // Compared without printing them: a failure would print 50 KB keys.
  t.true(typeof doc(0).S === 'string' && isDeepStrictEqual(JSON.parse(doc(0).S), JSON.parse(docs[0]!)), 'the 50,001-byte key: its json text as S');
  t.true(isDeepStrictEqual(doc(1), { M: { ['é'.repeat(25_000)]: { N: '2' } } }), 'the 50,000-byte key: a map');
  const tableName = tableFor(t, 'mapkey_');
  const report = await runLoad({ store, run: 'r', tableName, mode: 'batch', concurrency: 4, settings: SETTINGS, log: quiet });
  t.true(report.ok);
  t.is(report.totals.written, manifest.totals.items_out);
  await verified(t, store, tableName, url, 'batch');
  recordFault(t, { fault: 'a jsonb key of 50,001 bytes (DynamoDB Local: unknown error over 50,000)', stage: 'transform', outcome: 'kept as S with a warning; batch load and verify completed', rows_in: manifest.totals.rows_in, items_out: manifest.totals.items_out, rejected: manifest.totals.rejected });
});

test('jsonb keys special to JavaScript (__proto__, constructor, …) load in batch and import mode, verify, and read back equal', async (t) => {
  t.timeout(180_000);
  const url = await freshDatabase(t);
  const details = '{"__proto__":{"x":1},"constructor":"c","toString":"t","hasOwnProperty":{"valueOf":null},"a":[{"__proto__":2}]}';
  const history = ['{"__proto__":{"y":3}}', '{"toString":"s","hasOwnProperty":[1]}'];
  const eventId = await withClient(url, async (c) => {
    await c.query(`ALTER TABLE processing_job_events ADD COLUMN details_history jsonb[]`);
    return (await c.query(`UPDATE processing_job_events SET event_details = $1::jsonb, details_history = $2::jsonb[]
      WHERE id = (SELECT e.id FROM processing_job_events e JOIN processing_jobs j ON j.id = e.job_id
                  WHERE e.created_at IS NOT NULL AND j.job_id <> '' ORDER BY e.id LIMIT 1)
      RETURNING id::text`, [details, history])).rows[0].id as string;
  });
  const { store, run, manifest } = await pipeline(url);
  const events = manifest.tables.find((x) => x.name === 'processing_job_events')!;
  t.falsy((await rejects(run, 'processing_job_events')).find((r) => (r.primary_key as { id: string }).id === eventId));
  let line = '';
  for (const part of events.parts) {
    const text = gunzipSync(Buffer.concat(await (await run.get(part.key)).toArray())).toString('utf8');
    line ||= text.split('\n').find((l) => l.includes(`"id":{"S":"${eventId}"}`)) ?? '';
  }
  t.true(line.includes('"event_details":{"M":{"a":{"L":[{"M":{"__proto__":{"N":"2"}}}]},'), 'the item file has every key');
  const item = JSON.parse(line).Item as Record<string, { S: string }>;
  const key = { PK: { S: item.PK!.S }, SK: { S: item.SK!.S } };
  const expected = {
    event_details: canonicalValue(expectedValue(JSON.parse(details))),
    details_history: canonicalValue({ L: history.map((h) => expectedValue(JSON.parse(h))) }),
  };
  t.true(expected.event_details.includes('9:__proto__=M:{1:x=N:1e0}'));

  const ddb = dynamoClient(env);
  t.teardown(() => ddb.destroy());
  const readBack = async (tableName: string, mode: string) => {
    const got = (await ddb.send(new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: true }))).Item!;
    const data = got.data!.M!;
    t.deepEqual(Object.keys(data.event_details!.M!).sort(), ['__proto__', 'a', 'constructor', 'hasOwnProperty', 'toString'], mode);
    t.is(canonicalValue(fromAttributeValue(data.event_details!)), expected.event_details, `${mode}: event_details`);
    t.is(canonicalValue(fromAttributeValue(data.details_history!)), expected.details_history, `${mode}: details_history`);
  };

  const batchTable = tableFor(t, 'protob_');
  const report = await runLoad({ store, run: 'r', tableName: batchTable, mode: 'batch', concurrency: 4, settings: SETTINGS, log: quiet });
  t.is(report.totals.written, manifest.totals.items_out);
  await verified(t, store, batchTable, url, 'batch');
  await readBack(batchTable, 'batch');

  const importTable = tableFor(t, 'protoi_');
  const loaded = await runCli('load/cli.ts', ['--mode', 'import', '--poll-seconds', '0.2', '--no-deletion-protection', '--no-ttl'], { ...env, STORE: store, RUN: 'r', DDB_TABLE: importTable });
  t.is(loaded.code, 0, loaded.stderr);
  t.like(JSON.parse(loaded.stdout), { mode: 'import', ok: true, totals: { written: manifest.totals.items_out } });
  await verified(t, store, importTable, url, 'import');
  await readBack(importTable, 'import');
  recordFault(t, { fault: 'jsonb keys __proto__, constructor, toString, hasOwnProperty (also in jsonb[])', stage: 'load', outcome: 'batch and import loads, verify and read-back equal', rows_in: manifest.totals.rows_in, items_out: manifest.totals.items_out, rejected: manifest.totals.rejected });
});

/** A JSON value as transform types it (objects M, arrays L, numbers N), every key an own key whatever its name. */
function expectedValue(json: unknown): AttributeJson {
  if (json === null) return { NULL: true };
  if (Array.isArray(json)) return { L: json.map(expectedValue) };
  if (typeof json === 'object') {
    const M: Record<string, AttributeJson> = {};
    for (const [k, v] of Object.entries(json)) Object.defineProperty(M, k, { value: expectedValue(v), enumerable: true, writable: true, configurable: true });
    return { M };
  }
  if (typeof json === 'number') return { N: String(json) };
  if (typeof json === 'boolean') return { BOOL: json };
  return { S: String(json) };
}
