// What load checks before it calls ImportTable, and how it picks its region
// and mode: the real load CLI against the local stack (s3rver answers
// GetBucketLocation, the ImportTable endpoint ListImports). Every refusal
// here must leave no table and no import behind.
import test, { type ExecutionContext } from 'ava';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { DeleteTableCommand, DescribeImportCommand, DescribeTableCommand, ImportTableCommand, ListImportsCommand } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { openStorage, type Storage } from '../lib/storage.ts';
import { readTransformManifest } from '../lib/transform-manifest.ts';
import { writeDumpRun } from '../scripts/golden.ts';
import { runTransform } from '../transform/runner.ts';
import { runCli } from './cli.ts';
import { freshBucketPrefix, randomName, stackEnv } from './stack.ts';
import { TRANSFORM_MANIFEST_KEY } from '../lib/run-layout.ts';

const env = stackEnv();
const ddb = dynamoClient(env);
test.after.always(() => ddb.destroy());

async function fixtureRun(): Promise<{ store: string; run: Storage }> {
  const store = freshBucketPrefix();
  await writeDumpRun(store, 'r');
  await runTransform({ store, run: 'r', concurrency: 2, gzipLevel: 1, unmapped: 'fail', dropExpired: false, log: () => {} });
  return { store, run: openStorage(store).sub('r') };
}

function load(store: string, tableName: string, args: string[] = [], extraEnv: Record<string, string | undefined> = {}) {
  return runCli('load/cli.ts', ['--poll-seconds', '0.2', '--no-ttl', '--no-deletion-protection', ...args], { ...env, STORE: store, RUN: 'r', DDB_TABLE: tableName, ...extraEnv });
}

async function noTableNoImport(tableName: string): Promise<boolean> {
  const missing = (await ddb.send(new DescribeTableCommand({ TableName: tableName })).then(() => undefined, (e: Error) => e))?.name === 'ResourceNotFoundException';
  const imports = (await ddb.send(new ListImportsCommand({}))).ImportSummaryList ?? [];
  return missing && !imports.some((s) => s.TableArn?.endsWith(`:table/${tableName}`));
}

test('the items over the region\'s ImportTable source size (15 TB in us-east-1, by the manifest\'s uncompressed bytes) are refused before ImportTable', async (t) => {
  const { store, run } = await fixtureRun();
  const manifest = (await readTransformManifest(run))!;
  manifest.totals.raw_bytes = 15e12 + 1;
  await run.put(TRANSFORM_MANIFEST_KEY, `${JSON.stringify(manifest, null, 2)}\n`);
  const tableName = randomName('pre_');
  const result = await load(store, tableName, ['--mode', 'import']);
  t.is(result.code, 1, result.stderr);
  t.regex(result.stderr, new RegExp(`^load: error: import into table ${tableName} refused before ImportTable: the items are 14 TB uncompressed \\(15000000000001 bytes\\); ImportTable in us-east-1 imports at most 15 TB: import from us-east-1, us-west-2 or eu-west-1 \\(15 TB\\), ask AWS Support to raise the quota, or load with --mode batch$`, 'm'));
  t.true(await noTableNoImport(tableName));
});

test('a bucket outside the table\'s region is refused (GetBucketLocation); AWS_DEFAULT_REGION and the profile\'s region are the region when AWS_REGION is unset', async (t) => {
  const { store } = await fixtureRun();
  const bucket = env.S3_BUCKET!;
  const tableName = randomName('pre_');
  const home = await mkdtemp(path.join(tmpdir(), 'pg2ddb-home-'));
  const noRegion = { AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_PROFILE: undefined, HOME: home, AWS_CONFIG_FILE: path.join(home, 'config') };
  const refusal = (region: string) => new RegExp(`^load: error: import into table ${tableName} refused before ImportTable: bucket ${bucket} is in us-east-1, table ${tableName} would be in ${region}: ImportTable reads a bucket of the table's region: set AWS_REGION=us-east-1, or copy the run to a bucket in ${region}$`, 'm');

  const byEnv = await load(store, tableName, ['--mode', 'import'], { AWS_REGION: 'eu-west-1' });
  t.is(byEnv.code, 1, byEnv.stderr);
  t.regex(byEnv.stderr, refusal('eu-west-1'));

  const byCliVariable = await load(store, tableName, ['--mode', 'import'], { ...noRegion, AWS_DEFAULT_REGION: 'ap-southeast-2' });
  t.is(byCliVariable.code, 1, byCliVariable.stderr);
  t.regex(byCliVariable.stderr, refusal('ap-southeast-2'));

  await writeFile(path.join(home, 'config'), '[default]\nregion = eu-north-1\n');
  const byProfile = await load(store, tableName, ['--mode', 'import'], { ...noRegion, AWS_DEFAULT_REGION: 'ap-southeast-2' });
  t.is(byProfile.code, 1, byProfile.stderr);
  t.regex(byProfile.stderr, refusal('eu-north-1'), 'the SDK\'s chain (the profile) before AWS_DEFAULT_REGION');

  // No region anywhere: an error that says how to set one, never a silent us-east-1.
  await mkdir(path.join(home, 'empty'));
  const none = await load(store, tableName, ['--mode', 'import'], { ...noRegion, AWS_CONFIG_FILE: path.join(home, 'empty', 'config') });
  t.is(none.code, 1, none.stderr);
  t.regex(none.stderr, /^load: error: no AWS region: set AWS_REGION \(or AWS_DEFAULT_REGION, or region in your AWS profile, ~\/\.aws\/config\), e\.g\. export AWS_REGION=eu-west-1$/m);
  t.true(await noTableNoImport(tableName));
});

/** An import DynamoDB Local takes a while to write (≈400 items/s measured on a busy machine); waited for at the test's end. */
async function startBusyImport(t: ExecutionContext, items: number): Promise<string> {
  const prefix = `${randomName('busy-')}/items/`;
  const lines = Array.from({ length: items }, (_, i) => JSON.stringify({ Item: { PK: { S: `B${i % 40}` }, SK: { S: String(i) } } }));
  await openStorage(`s3://${env.S3_BUCKET}/${prefix.slice(0, -1)}`).put('part-00000.json.gz', gzipSync(`${lines.join('\n')}\n`));
  const busyTable = randomName('busy_');
  const busy = (await ddb.send(new ImportTableCommand({
    ClientToken: busyTable, S3BucketSource: { S3Bucket: env.S3_BUCKET!, S3KeyPrefix: prefix }, InputFormat: 'DYNAMODB_JSON', InputCompressionType: 'GZIP',
    TableCreationParameters: {
      TableName: busyTable, BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'PK', KeyType: 'HASH' }, { AttributeName: 'SK', KeyType: 'RANGE' }],
      AttributeDefinitions: [{ AttributeName: 'PK', AttributeType: 'S' }, { AttributeName: 'SK', AttributeType: 'S' }],
    },
  }))).ImportTableDescription!;
  t.teardown(async () => {
    while ((await ddb.send(new DescribeImportCommand({ ImportArn: busy.ImportArn }))).ImportTableDescription?.ImportStatus === 'IN_PROGRESS') await new Promise((r) => setTimeout(r, 200));
    await ddb.send(new DeleteTableCommand({ TableName: busyTable }));
  });
  return busy.ImportArn!;
}

test('load refuses to start an import while the account\'s quota of imports is IN_PROGRESS (ListImports)', async (t) => {
  t.timeout(600_000);
  const { store } = await fixtureRun();
  // The other import must still be running when the load has exited, which is checked: a machine
  // that imported it first (20,000 items were once done before the load's check) tries again
  // with twice the items.
  for (let items = 60_000; ; items *= 2) {
    const busyImport = await startBusyImport(t, items);
    const tableName = randomName('pre_');
    t.teardown(async () => { await ddb.send(new DeleteTableCommand({ TableName: tableName })).catch(() => {}); });
    // A quota of 1 (as an account whose quota is 1 would set it): the same check that refuses at 50.
    const result = await load(store, tableName, ['--mode', 'import', '--imports-in-progress-limit', '1']);
    const still = (await ddb.send(new DescribeImportCommand({ ImportArn: busyImport }))).ImportTableDescription!;
    if (still.ImportStatus !== 'IN_PROGRESS') {
      t.true(items < 480_000, `the other import of ${items} items ended before the load did`);
      if (items < 480_000) continue;
    }
    t.is(result.code, 1, result.stderr);
    t.regex(result.stderr, new RegExp(`^load: error: import into table ${tableName} refused before ImportTable: \\d+ imports are IN_PROGRESS in us-east-1; the account runs at most 1 at once: wait for one to end \\(aws dynamodb list-imports\\), then rerun make load$`, 'm'));
    t.true(await noTableNoImport(tableName));
    return;
  }
});

test('load says its mode and why on its first line: batch only for a loopback DynamoDB endpoint', async (t) => {
  const { store } = await fixtureRun();
  const tableName = randomName('pre_');
  const batch = await load(store, tableName, ['--quiet']);
  t.is(batch.code, 0, batch.stderr);
  t.is(batch.stderr.split('\n')[0], `load: mode batch (AWS_ENDPOINT_URL_DYNAMODB=${new URL(env.AWS_ENDPOINT_URL_DYNAMODB!).origin} is a loopback address (DynamoDB Local has no ImportTable); MODE=import to import anyway)`);
  t.teardown(async () => { await ddb.send(new DeleteTableCommand({ TableName: tableName })).catch(() => {}); });
  // Not loopback: import mode. A run that does not exist stops it before any call to that endpoint.
  const elsewhere = await load(store, randomName('pre_'), ['--quiet'], { RUN: 'nope', AWS_ENDPOINT_URL_DYNAMODB: 'https://user:secret@dynamodb.eu-west-1.amazonaws.com', AWS_REGION: 'eu-west-1' });
  t.is(elsewhere.code, 1, elsewhere.stderr);
  t.is(elsewhere.stderr.split('\n')[0], 'load: mode import (AWS_ENDPOINT_URL_DYNAMODB=https://dynamodb.eu-west-1.amazonaws.com is not a loopback address: DynamoDB on AWS; MODE=batch for BatchWriteItem)');
  t.false(elsewhere.stderr.includes('secret'), 'the endpoint is shown without its credentials');
  const byVariable = await load(store, tableName, ['--quiet'], { MODE: 'batch' });
  t.is(byVariable.stderr.split('\n')[0], 'load: mode batch (MODE=batch)');
});
