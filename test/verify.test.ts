// verify against the stack's DynamoDB Local: a table damaged three ways after
// the load (one item changed, one deleted, one added) fails, naming all three.
import test from 'ava';
import { DeleteItemCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { openStorage } from '../lib/storage.ts';
import { fromItemValue, toItemValue, type ItemJson } from '../model/attribute-json.ts';
import { itemKey, keyHash } from '../lib/item-files.ts';
import { runLoad } from '../load/load.ts';
import { DEFAULT_SETTINGS } from '../model/table-spec.ts';

import { runVerify } from '../verify/verify.ts';
import { ENTITIES_DIR, isEntityFile } from '../model/registry.ts';
import { writeDumpRun } from '../scripts/golden.ts';
import { runTransform } from '../transform/runner.ts';
import { runCli } from './cli.ts';
import { freshBucketPrefix, freshDatabase, randomName, stackEnv } from './stack.ts';
import { VERIFY_REPORT_KEY } from '../lib/run-layout.ts';

const quiet = () => {};

test('make verify names a changed item, a deleted item and a stray item, and exits non-zero', async (t) => {
  const env = stackEnv();
  const databaseUrl = await freshDatabase(t);
  const store = freshBucketPrefix();
  await writeDumpRun(store, 'r');
  await runTransform({ store, run: 'r', concurrency: 2, gzipLevel: 1, unmapped: 'fail', dropExpired: false, log: quiet });
  const tableName = randomName('verify_');
  // TTL off: DynamoDB Local would otherwise expire fixture items on its own while the test runs.
  await runLoad({ store, run: 'r', tableName, mode: 'batch', concurrency: 4, settings: { ...DEFAULT_SETTINGS, deletionProtection: false, ttl: false }, log: quiet });
  const verify = () => runCli('verify/cli.ts', [], { ...env, DATABASE_URL: databaseUrl, STORE: store, RUN: 'r', DDB_TABLE: tableName });

  const clean = await verify();
  t.is(clean.code, 0, clean.stderr);
  t.true(JSON.parse(clean.stdout).ok);

  const client = dynamoClient();
  const items = (await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }))).Items!.map(fromItemValue);
  const ofType = (type: string) => items.filter((i) => (i.entity_type as { S: string }).S === type).sort((a, b) => (itemKey(a) < itemKey(b) ? -1 : 1));
  // One user's given name changed, one device deleted, one stray consent added.
  const changed = ofType('user')[2]!;
  const data = (changed.data as { M: ItemJson }).M;
  await client.send(new PutItemCommand({ TableName: tableName, Item: toItemValue({ ...changed, data: { M: { ...data, given_name: { S: 'Tampered' } } } }) }));
  const deleted = ofType('device')[1]!;
  await client.send(new DeleteItemCommand({ TableName: tableName, Key: toItemValue({ PK: deleted.PK!, SK: deleted.SK! }) }));
  const stray: ItemJson = { PK: { S: 'USER#00000000-0000-4000-8000-000000000bad' }, SK: { S: 'CONSENT#terms_of_service' }, entity_type: { S: 'consent' } };
  await client.send(new PutItemCommand({ TableName: tableName, Item: toItemValue(stray) }));
  // A session whose ttl has passed, deleted: the table's TTL is off, so nothing expired by itself and it is lost.
  const expired = ofType('session').find((i) => Number((i.ttl as { N?: string } | undefined)?.N) < Date.now() / 1000)!;
  t.truthy(expired, 'the fixture has expired sessions');
  await client.send(new DeleteItemCommand({ TableName: tableName, Key: toItemValue({ PK: expired.PK!, SK: expired.SK! }) }));

  const result = await verify();
  t.is(result.code, 1, result.stderr);
  const report = JSON.parse(result.stdout) as { ok: boolean; checks: { name: string; ok: boolean; numbers: Record<string, number>; failures: Record<string, unknown>[] }[] };
  t.false(report.ok);
  const check = (prefix: string) => report.checks.find((c) => c.name.startsWith(prefix))!;

  const counts = check('counts');
  t.false(counts.ok);
  t.deepEqual(counts.failures.map((f) => f.entity_type).sort(), ['consent', 'device', 'session']);
  t.like(counts.numbers, { 'device.expected': counts.numbers['device.actual']! + 1, 'consent.actual': counts.numbers['consent.expected']! + 1 });

  const same = check('every item');
  t.false(same.ok);
  t.like(same.numbers, { missing: 2, differing: 1, expired_by_ttl: 0 });
  t.like(same.failures.find((f) => f.problem === 'differs'), { key_hash: keyHash(itemKey(changed)), attributes: ['data'], table: 'users' });
  t.like(same.failures.find((f) => f.problem === 'missing' && f.table === 'user_devices'), { key_hash: keyHash(itemKey(deleted)) });
  t.like(same.failures.find((f) => f.problem === 'missing' && f.table === 'user_sessions'), { key_hash: keyHash(itemKey(expired)) });

  const strays = check('no item');
  t.false(strays.ok);
  t.deepEqual(strays.failures, [{ problem: 'stray', entity_type: 'consent', key_hash: keyHash(itemKey(stray)) }]);

  // The human report names all three too, by hash and position, and never prints a value.
  for (const item of [changed, deleted, stray]) t.true(result.stderr.includes(keyHash(itemKey(item))));
  t.false(result.stderr.includes('Tampered'));
  t.false(result.stderr.includes((data.email as { S: string } | undefined)?.S ?? '\0'));
  t.regex(result.stderr, /FAIL counts per entity_type/);
  const stored = JSON.parse((await openStorage(store).sub('r').getText(VERIFY_REPORT_KEY))!);
  t.false(stored.ok);
});

/** A copy of the shipped entities in a directory of its own, with `edit` applied to one file's text. */
async function editedEntities(file: string, edit: (text: string) => string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-entities-'));
  const model = fileURLToPath(new URL('../model', import.meta.url));
  // Outside any package: without this, .ts files there load as CommonJS.
  await writeFile(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  for (const name of (await readdir(ENTITIES_DIR)).filter(isEntityFile)) {
    // The copies import the model's entity type and computed values where they are.
    let text = (await readFile(path.join(ENTITIES_DIR, name), 'utf8')).replace(/from '\.\.\/(entity|computed)\.ts'/g, (_, m: string) => `from '${path.join(model, `${m}.ts`)}'`);
    if (name === file) text = edit(text);
    await writeFile(path.join(dir, name), text);
  }
  return dir;
}

test('a key template changed in an entity is caught by its access patterns, unedited; transformed and loaded with the change, they pass', async (t) => {
  const databaseUrl = await freshDatabase(t);
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-verify-test-'));
  const settings = { ...DEFAULT_SETTINGS, deletionProtection: false, ttl: false };
  const pattern = 'access pattern: user by auth provider + external id (GSI2)';
  const changed = await editedEntities('users.ts', (text) => text.replace("'USER_EXTERNAL#{auth_provider}#{external_id}'", "'EXTERNAL#{external_id}#{auth_provider}'"));
  t.not(await readFile(path.join(changed, 'users.ts'), 'utf8'), await readFile(path.join(ENTITIES_DIR, 'users.ts'), 'utf8'));

  // Loaded with the shipped template, checked with the changed one: that pattern fails, nothing else.
  await writeDumpRun(store, 'r');
  await runTransform({ store, run: 'r', concurrency: 2, gzipLevel: 1, unmapped: 'fail', dropExpired: false, log: quiet });
  const shipped = randomName('verify_');
  await runLoad({ store, run: 'r', tableName: shipped, mode: 'batch', concurrency: 4, settings, log: quiet });
  const stale = await runVerify({ store, run: 'r', tableName: shipped, concurrency: 2, databaseUrl, sampleSize: 20, entities: changed, log: quiet });
  t.deepEqual(stale.checks.filter((c) => !c.ok).map((c) => c.name), [pattern]);
  const failed = stale.checks.find((c) => c.name === pattern)!;
  t.true(failed.numbers.mismatches! > 0);
  t.true(failed.failures.every((f) => (f.problems as string[]).includes("the sampled row's item is not returned")));

  // Transformed (on worker threads) and loaded with the changed template: every check passes.
  await writeDumpRun(store, 'c');
  await runTransform({ store, run: 'c', concurrency: 2, gzipLevel: 1, unmapped: 'fail', dropExpired: false, entities: changed, log: quiet });
  const renewed = randomName('verify_');
  await runLoad({ store, run: 'c', tableName: renewed, mode: 'batch', concurrency: 4, settings, log: quiet });
  const fresh = await runVerify({ store, run: 'c', tableName: renewed, concurrency: 2, databaseUrl, sampleSize: 20, entities: changed, log: quiet });
  t.deepEqual(fresh.checks.filter((c) => !c.ok).map((c) => c.name), []);
  t.true(fresh.checks.find((c) => c.name === pattern)!.numbers.samples! > 0);
  t.is(fresh.checks.length, 10, '(a), (b), (c) and seven access patterns');
});
