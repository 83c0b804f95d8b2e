// `--dry-run` of extract, transform and load: each prints what it would do and
// writes nothing. Every case lists the store (each object's key and size) and
// the DynamoDB tables and items before and after, and checks the plan's numbers
// against what the real stage then does.
import test from 'ava';
import { DeleteTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import pg from 'pg';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { readExtractManifest } from '../lib/manifest.ts';
import { openStorage } from '../lib/storage.ts';
import { readTransformManifest } from '../lib/transform-manifest.ts';
import { canonicalValue } from '../model/attribute-json.ts';
import { GB, pricesFor, readPriceFile } from '../lib/cost-model.ts';
import { parallelScan } from '../lib/parallel-scan.ts';
import { itemKey } from '../lib/item-files.ts';
import { runCli } from './cli.ts';
import { freshBucketPrefix, freshDatabase, randomName, stackEnv } from './stack.ts';

/** Every object of the store as `key size`, sorted. */
async function listing(store: string): Promise<string[]> {
  return (await openStorage(store).list('')).map((o) => `${o.key} ${o.bytes}`).sort();
}

async function tableNames(): Promise<string[]> {
  const names: string[] = [];
  let start: string | undefined;
  do {
    const page = await dynamoClient().send(new ListTablesCommand({ ExclusiveStartTableName: start }));
    names.push(...page.TableNames ?? []);
    start = page.LastEvaluatedTableName;
  } while (start);
  return names;
}

/** Every item of the table, canonical, by key. */
async function items(tableName: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await parallelScan({
    client: dynamoClient(), tableName, segments: 1,
    onPage: (page) => { for (const item of page) out.set(itemKey(item as Record<string, { S?: string }>), canonicalValue({ M: item } as never)); },
  });
  return out;
}

function stage(name: 'extract' | 'transform' | 'load', env: Record<string, string | undefined>) {
  return async (args: string[], extra: Record<string, string | undefined> = {}) => {
    const result = await runCli(`${name}/cli.ts`, args, { ...env, ...extra });
    if (result.code !== 0) throw new Error(`${name} ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return result;
  };
}

test('extract, transform and load --dry-run write nothing, and their plans count what the real stages then do', async (t) => {
  const databaseUrl = await freshDatabase(t);
  const store = freshBucketPrefix();
  const tableName = randomName('dry_');
  const env = { ...stackEnv(), DATABASE_URL: databaseUrl, STORE: store, RUN: 'r', MODE: 'batch', DDB_TABLE: tableName };
  const extract = stage('extract', env);
  const transform = stage('transform', env);
  const load = stage('load', env);

  // extract: the store stays empty; the rows it announces are the rows the extract then copies.
  const dryExtract = await extract(['--dry-run']);
  t.deepEqual(await listing(store), [], 'extract --dry-run wrote nothing');
  const extractPlan = JSON.parse(dryExtract.stdout);
  t.true(extractPlan.dry_run);
  t.regex(dryExtract.stderr, /^extract: dry run, nothing written: \d+ table\(s\)/m);
  await extract(['--quiet']);
  const extracted = (await readExtractManifest(openStorage(store).sub('r')))!;
  t.deepEqual(
    Object.fromEntries(extractPlan.tables.map((x: { name: string; rows: number; rows_exact: boolean }) => [x.name, [x.rows, x.rows_exact]])),
    Object.fromEntries(extracted.tables.map((x) => [x.name, [x.rows, true]])),
    'exact row counts of every (small) table',
  );
  const afterExtract = await listing(store);
  const dryOne = JSON.parse((await extract(['--dry-run'], { TABLE: 'users' })).stdout);
  t.deepEqual(dryOne.tables.map((x: { name: string }) => x.name), ['users']);
  t.is(dryOne.kept.length, extracted.tables.length - 1, 'a TABLE= run keeps the other tables');
  t.deepEqual(await listing(store), afterExtract, 'extract TABLE=users --dry-run wrote nothing');

  // transform: every unit to do, then (after the real transform) every unit to skip.
  const dryTransform = await transform(['--dry-run']);
  t.deepEqual(await listing(store), afterExtract, 'transform --dry-run wrote nothing');
  const transformPlan = JSON.parse(dryTransform.stdout);
  t.is(transformPlan.totals.to_skip, 0);
  await transform(['--quiet']);
  const transformed = (await readTransformManifest(openStorage(store).sub('r')))!;
  t.is(transformPlan.totals.to_do, transformed.tables.reduce((n, x) => n + (x.mapping === 'skip' ? 0 : x.parts.length), 0));
  t.is(transformPlan.totals.rows_to_do, transformed.tables.reduce((n, x) => n + (x.mapping === 'skip' ? 0 : x.rows_in), 0));
  const afterTransform = await listing(store);
  const again = JSON.parse((await transform(['--dry-run'])).stdout);
  t.like(again.totals, { to_do: 0, to_skip: transformPlan.totals.to_do });
  t.deepEqual(await listing(store), afterTransform, 'the second transform --dry-run wrote nothing');

  // load into an absent table: no table appears; every item is one to create.
  // This table only: other tests create and delete theirs in the same DynamoDB meanwhile.
  t.false((await tableNames()).includes(tableName), 'absent before');
  const dryLoad = await load(['--dry-run']);
  t.false((await tableNames()).includes(tableName), 'load --dry-run created no table');
  t.deepEqual(await listing(store), afterTransform, 'load --dry-run wrote nothing to the store');
  const loadPlan = JSON.parse(dryLoad.stdout);
  t.like(loadPlan, { dry_run: true, mode: 'batch', table: tableName, table_exists: false });
  t.like(loadPlan.totals, { items: transformed.totals.items_out, create: transformed.totals.items_out, upsert: 0, prune: 0 });
  const price = pricesFor(readPriceFile(), loadPlan.import_estimate.prices_of).import_per_gb.usd;
  t.is(loadPlan.totals.raw_bytes, transformed.totals.raw_bytes);
  t.is(loadPlan.import_estimate.usd, (transformed.totals.raw_bytes / GB) * price);
  t.regex(dryLoad.stderr, new RegExp(`load: +total: \\d+ table\\(s\\), ${transformed.totals.items_out} items: ${transformed.totals.items_out} to create, 0 to upsert, 0 to prune`));
  const imported = JSON.parse((await load(['--dry-run', '--mode', 'import'])).stdout);
  t.like(imported, { mode: 'import', table_exists: false });
  t.is(imported.totals.create, transformed.totals.items_out);
  t.false((await tableNames()).includes(tableName), 'load --mode import --dry-run created no table');

  // After a real load: a changed and a deleted user, reloaded with TABLE=users --prune --dry-run, change nothing.
  await load(['--quiet', '--no-deletion-protection', '--no-ttl']);
  t.teardown(async () => { await dynamoClient().send(new DeleteTableCommand({ TableName: tableName })); });
  // Import mode into that table: the dry run refuses it as the load would, not "every item to create".
  const importInto = await runCli('load/cli.ts', ['--dry-run', '--mode', 'import'], env);
  t.is(importInto.code, 1, importInto.stderr);
  t.regex(importInto.stderr, new RegExp(`^load: error: DynamoDB table ${tableName} already exists and was not created by this run's import`, 'm'));
  t.is(importInto.stdout, '');
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  t.teardown(() => db.end());
  await db.query(`UPDATE users SET given_name = 'Renamed' WHERE id = (SELECT id FROM users ORDER BY id LIMIT 1)`);
  await db.query(`DELETE FROM users WHERE id = (SELECT id FROM users ORDER BY id DESC LIMIT 1)`);
  await extract(['--quiet'], { TABLE: 'users' });
  await transform(['--quiet'], { TABLE: 'users' });
  const store0 = await listing(store);
  const items0 = await items(tableName);
  const dryPrune = await load(['--prune', '--dry-run'], { TABLE: 'users' });
  t.deepEqual(await items(tableName), items0, 'TABLE=users --prune --dry-run wrote and deleted no item');
  t.deepEqual(await listing(store), store0, 'TABLE=users --prune --dry-run wrote nothing to the store');
  const users = (await readTransformManifest(openStorage(store).sub('r')))!.tables.find((x) => x.name === 'users')!;
  const prunePlan = JSON.parse(dryPrune.stdout);
  t.like(prunePlan, { table_exists: true });
  t.like(prunePlan.tables[0], { name: 'users', items: users.items_out, create: 0, upsert: users.items_out, prune: { stale: 1, deleted: 0, dry_run: true } });
  t.like(prunePlan.totals, { items: users.items_out, upsert: users.items_out, prune: 1 });
});
