// The load stage's import mode end to end, unmocked: the real load CLI against
// the local stack's ImportTable endpoint (scripts/import-endpoint/), which reads
// the run's items from the stack's S3 as AWS would. Runs are the committed
// fixture dumps written as an extract run and transformed (no extract from a
// database; only verify's access patterns use one), then, for the failure
// cases, tampered with after transform.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  CreateTableCommand, DeleteTableCommand, DescribeImportCommand, DescribeTableCommand, ImportTableCommand, ListImportsCommand, ScanCommand,
  type ImportSummary,
} from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { manifestText } from '../lib/manifest.ts';
import { sha256Hex } from '../lib/meter.ts';
import { openStorage, type Storage } from '../lib/storage.ts';
import { readTransformManifest, type TransformManifest } from '../lib/transform-manifest.ts';
import { type ImportAttempt } from '../load/import-attempts.ts';
import { importClientToken, importTableRequest, itemsLocation } from '../load/import-table.ts';
import { DEFAULT_SETTINGS } from '../model/table-spec.ts';
import { readRunReport } from '../lib/run-report.ts';
import { type LoadReport } from '../load/report.ts';
import { runVerify } from '../verify/verify.ts';
import { DUMPS_DIR } from '../scripts/dumps.ts';
import { writeDumpRun } from '../scripts/golden.ts';
import { runTransform } from '../transform/runner.ts';
import { runCli } from './cli.ts';
import { freshBucketPrefix, freshDatabase, randomName, stackEnv } from './stack.ts';
import { EXTRACT_MANIFEST_KEY, IMPORT_RECORD_KEY, LOAD_REPORT_KEY, TRANSFORM_MANIFEST_KEY } from '../lib/run-layout.ts';

const env = stackEnv();
const quiet = () => {};
const ddb = dynamoClient(env);
test.after.always(() => ddb.destroy());

const transform = (store: string) =>
  runTransform({ store, run: 'r', concurrency: 2, gzipLevel: 1, unmapped: 'fail', dropExpired: false, log: quiet });

/** A transform run of the committed fixture dumps in a fresh S3 prefix (ImportTable reads S3 only). */
async function fixtureRun(): Promise<{ store: string; run: Storage; manifest: TransformManifest }> {
  const store = freshBucketPrefix();
  await writeDumpRun(store, 'r');
  const manifest = await transform(store);
  return { store, run: openStorage(store).sub('r'), manifest };
}

/** `make load MODE=import`: the CLI a user runs, polling DescribeImport every 0.2 s. */
function load(store: string, tableName: string, args: string[] = []) {
  return runCli('load/cli.ts', ['--mode', 'import', '--poll-seconds', '0.2', ...args], { ...env, STORE: store, RUN: 'r', DDB_TABLE: tableName });
}

/** `s` as a regular expression matching exactly it (store URIs and keys hold `.` and `/`). */
const literally = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function loadReport(run: Storage): Promise<LoadReport | undefined> {
  const text = await run.getText(LOAD_REPORT_KEY);
  return text === undefined ? undefined : (JSON.parse(text) as LoadReport);
}

async function readObject(run: Storage, key: string): Promise<Buffer> {
  return Buffer.concat(await (await run.get(key)).toArray());
}

/**
 * Replaces an item file and makes the transform manifest agree with the new
 * bytes (size, sha256, and the uncompressed size when known): what a transform
 * bug that wrote a bad file and recorded it faithfully would leave. Load's own
 * pre-import check (checkItemObjects: no unlisted object, no missing or
 * resized file) then passes, and ImportTable is what meets the bad content.
 */
async function replaceItemFile(run: Storage, key: string, stored: Buffer, raw?: Buffer): Promise<void> {
  const manifest = (await readTransformManifest(run))!;
  const table = manifest.tables.find((t) => t.parts.some((p) => p.key === key))!;
  const part = table.parts.find((p) => p.key === key)!;
  const bytes = stored.length - part.bytes;
  const rawBytes = raw ? raw.length - part.raw_bytes : 0;
  Object.assign(part, { bytes: stored.length, sha256: sha256Hex(stored), raw_bytes: part.raw_bytes + rawBytes });
  table.bytes += bytes;
  table.raw_bytes += rawBytes;
  manifest.totals.bytes += bytes;
  manifest.totals.raw_bytes += rawBytes;
  await run.put(key, stored);
  await run.put(TRANSFORM_MANIFEST_KEY, `${JSON.stringify(manifest, null, 2)}\n`);
}

/** The item file with the most bytes (a truncation then cuts through many items). */
function largestPart(manifest: TransformManifest) {
  return manifest.tables.flatMap((t) => t.parts).sort((a, b) => b.bytes - a.bytes)[0]!;
}

/** Every import the endpoint knows on `tableName`'s ARN (ListImports of the whole account, paged). */
async function importsOnTable(tableName: string): Promise<ImportSummary[]> {
  const out: ImportSummary[] = [];
  let NextToken: string | undefined;
  do {
    const page = await ddb.send(new ListImportsCommand({ NextToken }));
    out.push(...(page.ImportSummaryList ?? []).filter((s) => s.TableArn?.endsWith(`:table/${tableName}`)));
    NextToken = page.NextToken;
  } while (NextToken);
  return out;
}

async function tableMissing(tableName: string): Promise<boolean> {
  const err = await ddb.send(new DescribeTableCommand({ TableName: tableName })).then(() => undefined, (e: Error) => e);
  return err?.name === 'ResourceNotFoundException';
}

async function countItems(tableName: string): Promise<number> {
  let n = 0;
  let ExclusiveStartKey: Record<string, never> | undefined;
  do {
    const page = await ddb.send(new ScanCommand({ TableName: tableName, Select: 'COUNT', ConsistentRead: true, ExclusiveStartKey }));
    n += page.Count ?? 0;
    ExclusiveStartKey = page.LastEvaluatedKey as typeof ExclusiveStartKey;
  } while (ExclusiveStartKey);
  return n;
}

test('import mode: ImportTable creates the table with every item, verify passes; reruns watch the same import and start no other', async (t) => {
  const databaseUrl = await freshDatabase(t);
  const { store, run, manifest } = await fixtureRun();
  const n = manifest.totals.items_out;
  const tableName = randomName('imp_');

  const loadArgs = ['--no-deletion-protection', '--tag', 'app=serenya'];
  const first = await load(store, tableName, loadArgs);
  t.is(first.code, 0, first.stderr);
  t.like(JSON.parse(first.stdout), { mode: 'import', table: tableName, created_table: true, ok: true, totals: { items: n, written: n } });

  const report = (await loadReport(run))!;
  const token = importClientToken(sha256Hex((await run.getText(TRANSFORM_MANIFEST_KEY))!), tableName);
  t.like(report, { ok: true, mode: 'import', problems: [] });
  t.like(report.import, { client_token: token, resumed: false, status: 'COMPLETED', imported_items: n, processed_items: n, error_count: 0 });
  t.is(report.import!.processed_bytes, manifest.totals.raw_bytes, 'ImportTable read every uncompressed byte the manifest lists');
  t.like(report.settings, { ttl: 'enabled', deletion_protection: 'off' });
  const importArn = report.import!.import_arn!;

  const described = (await ddb.send(new DescribeImportCommand({ ImportArn: importArn }))).ImportTableDescription!;
  t.like(described, { ImportStatus: 'COMPLETED', ImportedItemCount: n, ErrorCount: 0, ClientToken: token, InputFormat: 'DYNAMODB_JSON', InputCompressionType: 'GZIP' });
  const table = (await ddb.send(new DescribeTableCommand({ TableName: tableName }))).Table!;
  t.is(table.TableStatus, 'ACTIVE');
  t.deepEqual(table.GlobalSecondaryIndexes?.map((g) => [g.IndexName, g.IndexStatus]).sort(), [['GSI1', 'ACTIVE'], ['GSI2', 'ACTIVE']]);
  t.is(described.TableArn, table.TableArn);

  // make verify: counts, every item, no strays, and the access patterns against the fixture database.
  const verify = await runCli('verify/cli.ts', ['--quiet'], { ...env, DATABASE_URL: databaseUrl, STORE: store, RUN: 'r', DDB_TABLE: tableName });
  t.is(verify.code, 0, verify.stdout);
  const checks = (JSON.parse(verify.stdout) as { ok: boolean; checks: { name: string; ok: boolean }[] }).checks;
  t.deepEqual(checks.filter((c) => !c.ok).map((c) => c.name), []);
  t.is(checks.length, 10, '(a), (b), (c) and seven access patterns');

  // make load again: the import recorded in load/import.json is watched, no second ImportTable.
  const again = await load(store, tableName, loadArgs);
  t.is(again.code, 0, again.stderr);
  t.true(again.stderr.includes(`resuming import ${importArn} (COMPLETED)`), again.stderr);
  t.like((await loadReport(run))!.import, { import_arn: importArn, client_token: token, resumed: true, status: 'COMPLETED', imported_items: n });

  // Without that record (a load from another machine): the table exists, and the
  // import on it that carries this run's ClientToken makes it ours: resumed, not refused.
  await run.delete('load/import.json');
  const elsewhere = await load(store, tableName, loadArgs);
  t.is(elsewhere.code, 0, elsewhere.stderr);
  t.regex(elsewhere.stderr, /was created by this run's import .* resuming/);
  t.like((await loadReport(run))!.import, { import_arn: importArn, resumed: true });

  const imports = (await ddb.send(new ListImportsCommand({ TableArn: table.TableArn }))).ImportSummaryList ?? [];
  t.deepEqual(imports.map((s) => [s.ImportArn, s.ImportStatus]), [[importArn, 'COMPLETED']], 'exactly one import on the table');
});

test('import mode refuses a table that exists and was not made by this run, before any ImportTable', async (t) => {
  const { store, run } = await fixtureRun();
  const tableName = randomName('imp_');
  await ddb.send(new CreateTableCommand({
    TableName: tableName,
    KeySchema: [{ AttributeName: 'PK', KeyType: 'HASH' }, { AttributeName: 'SK', KeyType: 'RANGE' }],
    AttributeDefinitions: [{ AttributeName: 'PK', AttributeType: 'S' }, { AttributeName: 'SK', AttributeType: 'S' }],
    BillingMode: 'PAY_PER_REQUEST',
  }));
  const result = await load(store, tableName);
  t.is(result.code, 1, result.stderr);
  t.regex(result.stderr, new RegExp(`^load: error: DynamoDB table ${tableName} already exists and was not created by this run's import \\(no import with this run's ClientToken pg2ddb-[0-9a-f]{29} on it\\)\\. ImportTable only creates new tables: choose another --ddb-table, or upsert into it with --mode batch$`, 'm'));
  t.like(await loadReport(run), { ok: false, created_table: false });
  t.deepEqual(await importsOnTable(tableName), [], 'no import was started');
  t.is(await countItems(tableName), 0, 'the table was left alone');
});

test('one bad item: the load exits non-zero naming ItemValidationError, ErrorCount 1, the S3 object and the item index', async (t) => {
  const { store, run, manifest } = await fixtureRun();
  const n = manifest.totals.items_out;
  const part = manifest.tables.find((x) => x.name === 'users')!.parts[0]!;
  // A transform bug that slipped one item without its sort key through, recorded
  // faithfully in the manifest (size, sha256, line count), so load's own checks of
  // the files pass and ImportTable is what judges it: the fifth line, itemIndex 4.
  const lines = gunzipSync(await readObject(run, part.key)).toString('utf8').split('\n');
  const bad = JSON.parse(lines[4]!) as { Item: Record<string, unknown> };
  delete bad.Item.SK;
  lines[4] = JSON.stringify(bad);
  const raw = Buffer.from(lines.join('\n'));
  await replaceItemFile(run, part.key, gzipSync(raw), raw);
  const tableName = randomName('imp_');

  const result = await load(store, tableName);
  t.is(result.code, 1, result.stderr);
  const [, bucket, prefix] = /^s3:\/\/([^/]+)\/(.+)$/.exec(store)!;
  const pointer = `s3://${bucket}/${prefix}/r/${part.key} item 4: One or more parameter values were invalid: Missing the key SK in the item`;
  t.true(result.stderr.includes(`load: import error: ${pointer}`), result.stderr);
  t.regex(result.stderr, /load: error: load failed: import ended FAILED with FailureCode ItemValidationError: Some of the items failed validation checks/);
  t.regex(result.stderr, /ErrorCount 1 \(expected 0\)/);
  // An item that cannot form a DynamoDB item ends the processing of the rest of
  // its object (S3DataImport.Validation): the 4 items before it are imported, the
  // ones after it are neither processed nor counted as errors.
  const imported = n - part.items + 4;
  t.regex(result.stderr, new RegExp(`ImportedItemCount ${imported} ≠ ${n} items in the transform manifest; ProcessedItemCount ${imported + 1} ≠ ${n}`));
  t.regex(result.stderr, /CloudWatch log group \/aws-dynamodb\/imports \(import arn:/);

  const report = (await loadReport(run))!;
  t.false(report.ok);
  t.like(report.import, {
    status: 'FAILED', failure_code: 'ItemValidationError', error_count: 1, imported_items: imported, processed_items: imported + 1,
    cloudwatch_log_group: '/aws-dynamodb/imports',
  });
  t.deepEqual(report.import!.first_errors, [pointer]);
  t.false(JSON.stringify(report).includes(JSON.stringify(bad.Item.PK)), 'the report names the item by position, not by value');
  // As on AWS, the table stays with the items imported; load applied no settings to it.
  t.true(part.items > 5, 'the bad item is not the last of its object');
  t.is(await countItems(tableName), imported);
  t.is(report.settings, undefined);
});

test('a truncated item file never loads: refused before ImportTable, or the import fails naming the object', async (t) => {
  const { store, run, manifest } = await fixtureRun();
  const part = largestPart(manifest);
  const whole = await readObject(run, part.key);
  const cut = whole.subarray(0, Math.floor(whole.length / 2));

  // Truncated after transform (a partial copy, a bad sync): the file no longer
  // matches the manifest, and load refuses it by name before it calls ImportTable.
  await run.put(part.key, cut);
  const refusedTable = randomName('imp_');
  const refused = await load(store, refusedTable);
  t.is(refused.code, 1, refused.stderr);
  t.regex(refused.stderr, new RegExp(`^load: error: .*${literally(part.key)}`, 'm'));
  t.true(await tableMissing(refusedTable), 'no ImportTable, no table');
  t.deepEqual(await importsOnTable(refusedTable), []);

  // Truncated before the manifest was written (a transform that recorded the
  // short file: size and sha256 agree). Two guards can stop it: load's own
  // read-through of the item files (checkItemFiles, gunzip fails) before
  // ImportTable, or else ImportTable, which imports the items before the cut
  // and fails with one error at the object. Either way: non-zero exit, the
  // object and "unexpected end of file" named, nothing reported COMPLETED.
  await replaceItemFile(run, part.key, cut);
  const tableName = randomName('imp_');
  const result = await load(store, tableName);
  t.is(result.code, 1, result.stderr);
  t.regex(result.stderr, new RegExp(`${literally(part.key)}.*unexpected end of file`));
  const report = await loadReport(run);
  if (await tableMissing(tableName)) {
    t.regex(result.stderr, new RegExp(`^load: error: ${literally(`${store}/r/${part.key}`)}: unexpected end of file$`, 'm'));
    t.deepEqual(await importsOnTable(tableName), [], 'refused before ImportTable');
    t.not(report?.import?.status, 'COMPLETED');
    return;
  }
  t.regex(result.stderr, /import ended FAILED with FailureCode ItemValidationError/);
  t.regex(result.stderr, /ErrorCount 1 \(expected 0\)/);
  t.like(report!.import, { status: 'FAILED', failure_code: 'ItemValidationError', error_count: 1 });
  const imported = report!.import!.imported_items!;
  t.true(imported > 0 && imported < manifest.totals.items_out, `imported ${imported}`);
  t.is(report!.import!.first_errors?.length, 1);
  t.regex(report!.import!.first_errors![0]!, new RegExp(`${literally(`/r/${part.key}`)} item \\d+: .*unexpected end of file`));
  t.true(result.stderr.includes(`load: import error: ${report!.import!.first_errors![0]}`));
});

/**
 * An extract run of the dumps in which two consent rows share (user_id,
 * consent_type), as a source without the schema's unique constraint could hold:
 * their items share (PK, SK) = (USER#…, CONSENT#…). The extra row sorts last.
 */
async function collidingRun(store: string): Promise<void> {
  const extract = await writeDumpRun(store, 'r');
  const run = openStorage(store).sub('r');
  const csv = await readFile(path.join(DUMPS_DIR, 'consent_records.csv'), 'utf8');
  const [header, firstRow] = csv.split('\n');
  const twin = `ffffffff-0000-4000-8000-000000000001${firstRow!.slice(36)}`.replace(/,v[0-9.]+,/, ',v9.9.9,');
  const edited = Buffer.from(`${csv}${twin}\n`);
  if (!header!.startsWith('id,user_id,consent_type,') || twin === firstRow) throw new Error('consent_records.csv no longer has the shape this test edits');
  const gz = gzipSync(edited, { level: 1 });
  const table = extract.tables.find((x) => x.name === 'consent_records')!;
  const part = table.parts[0]!;
  await run.put(part.key, gz);
  Object.assign(part, { rows: part.rows + 1, raw_bytes: edited.length, raw_sha256: sha256Hex(edited), bytes: gz.length, sha256: sha256Hex(gz) });
  Object.assign(table, { rows: part.rows, raw_bytes: edited.length, bytes: gz.length });
  await run.put(EXTRACT_MANIFEST_KEY, manifestText(extract));
}

test('duplicate keys: the pipeline refuses the run before load; bypassing the check, the import reports success and one item is silently gone', async (t) => {
  const store = freshBucketPrefix();
  await collidingRun(store);
  const run = openStorage(store).sub('r');

  // The normal pipeline: transform finds the pair and marks the run not ready; load refuses it.
  const manifest = await transform(store);
  t.false(manifest.ready_for_load);
  t.is(manifest.duplicates, 1);
  t.deepEqual(manifest.problems, ['1 item(s) share (PK, SK) with another item: see transform/duplicates.jsonl']);
  const tableName = randomName('imp_');
  const refused = await load(store, tableName);
  t.is(refused.code, 1, refused.stderr);
  t.is(refused.stderr, 'load: mode import (--mode import)\nload: error: run r is not ready for load: 1 item(s) share (PK, SK) with another item: see transform/duplicates.jsonl\n');
  t.true(await tableMissing(tableName), 'no ImportTable was called (it would have created the table)');
  t.deepEqual(await importsOnTable(tableName), []);
  t.is(await loadReport(run), undefined, 'refused before the load began');

  // The same items under the manifest a transform without the duplicate check would have written.
  const unchecked: TransformManifest = { ...manifest, duplicates: 0, problems: [], ready_for_load: true };
  await run.put(TRANSFORM_MANIFEST_KEY, `${JSON.stringify(unchecked, null, 2)}\n`);
  const n = manifest.totals.items_out;
  const consentPart = manifest.tables.find((x) => x.name === 'consent_records')!.parts[0]!;
  const consentLines = gunzipSync(await readObject(run, consentPart.key)).toString('utf8').split('\n').filter(Boolean);
  t.is(consentLines.length, consentPart.items, 'both colliding items are in the item file');

  // TTL off: DynamoDB Local would otherwise expire fixture items while the table is counted.
  const bypass = await load(store, tableName, ['--no-ttl', '--no-deletion-protection']);
  t.is(bypass.code, 0, bypass.stderr);
  const report = (await loadReport(run))!;
  t.true(report.ok, 'load sees nothing wrong');
  t.like(report.import, { status: 'COMPLETED', error_count: 0, imported_items: n, processed_items: n });
  t.deepEqual(report.import!.first_errors, undefined);
  t.is(await countItems(tableName), n - 1, 'ImportedItemCount says every line, the table holds one item fewer');

  // The last one in the source won: the later line's values overwrote the earlier one's
  // (item files are in a seeded shuffled order, so either row may be the later line).
  const [first, twin] = consentLines.map((l) => JSON.parse(l) as { Item: { PK: { S: string }; SK: { S: string }; data: { M: { consent_version: { S: string } } } } })
    .filter((l, _, all) => all.filter((o) => o.Item.PK.S === l.Item.PK.S && o.Item.SK.S === l.Item.SK.S).length === 2);
  t.truthy(first && twin);
  const stored = await ddb.send(new ScanCommand({
    TableName: tableName, ConsistentRead: true, FilterExpression: 'PK = :pk AND SK = :sk',
    ExpressionAttributeValues: { ':pk': first!.Item.PK, ':sk': first!.Item.SK },
  }));
  t.is(stored.Count, 1);
  t.not(first!.Item.data.M.consent_version.S, twin!.Item.data.M.consent_version.S);
  t.deepEqual((stored.Items![0]!.data!.M!.consent_version as { S: string }).S, twin!.Item.data.M.consent_version.S);

  // Only a count afterwards shows it: verify's per-entity_type count is one short.
  const verify = await runVerify({ store, run: 'r', tableName, concurrency: 4, databaseUrl: false, sampleSize: 1, log: quiet });
  t.false(verify.ok);
  const counts = verify.checks.find((c) => c.name.startsWith('counts'))!;
  t.false(counts.ok);
  t.is(counts.numbers['consent.actual'], counts.numbers['consent.expected']! - 1);
});

async function recordedAttempts(run: Storage): Promise<ImportAttempt[]> {
  return (JSON.parse((await run.getText(IMPORT_RECORD_KEY))!) as { attempts: ImportAttempt[] }).attempts;
}

test('a failed import can be retried: the table it left is refused until deleted, then the fixed run is import attempt 2, and every attempt is reported', async (t) => {
  const { store, run, manifest } = await fixtureRun();
  const n = manifest.totals.items_out;
  const part = manifest.tables.find((x) => x.name === 'users')!.parts[0]!;
  const goodFile = await readObject(run, part.key);
  const goodManifest = (await run.getText(TRANSFORM_MANIFEST_KEY))!;
  // A transform bug that wrote one item without its sort key, recorded faithfully: ImportTable fails it.
  const lines = gunzipSync(goodFile).toString('utf8').split('\n');
  const bad = JSON.parse(lines[1]!) as { Item: Record<string, unknown> };
  delete bad.Item.SK;
  lines[1] = JSON.stringify(bad);
  const raw = Buffer.from(lines.join('\n'));
  await replaceItemFile(run, part.key, gzipSync(raw), raw);
  const tableName = randomName('imp_');

  const failed = await load(store, tableName, ['--no-ttl', '--no-deletion-protection']);
  t.is(failed.code, 1, failed.stderr);
  t.regex(failed.stderr, /import ended FAILED with FailureCode ItemValidationError/);
  t.true(failed.stderr.includes(`to retry: fix the cause, delete table ${tableName} (aws dynamodb delete-table --table-name ${tableName}), then rerun make load: it starts import attempt 2`), failed.stderr);
  const [first] = await recordedAttempts(run);
  t.like(first, { attempt: 1, status: 'FAILED', failure_code: 'ItemValidationError' });

  // Rerun with the table still there: refused, saying what to do; no second import.
  const refused = await load(store, tableName, ['--no-ttl', '--no-deletion-protection']);
  t.is(refused.code, 1, refused.stderr);
  t.regex(refused.stderr, new RegExp(`^load: error: import attempt 1 ${literally(first!.import_arn)}: FAILED \\(ItemValidationError: .*\\); its table ${tableName} is still there, and ImportTable only creates new tables\\. .*delete the table \\(aws dynamodb delete-table --table-name ${tableName}\\), then rerun make load: it starts import attempt 2$`, 'm'));
  t.is((await importsOnTable(tableName)).length, 1, 'no second import while the failed one\'s table is there');
  t.like((await loadReport(run))!.import, { attempt: 1, attempts: [{ attempt: 1, status: 'FAILED' }] });

  // The cause fixed (the good file and its manifest back), the table deleted: attempt 2 completes.
  await run.put(part.key, goodFile);
  await run.put(TRANSFORM_MANIFEST_KEY, goodManifest);
  await ddb.send(new DeleteTableCommand({ TableName: tableName }));
  const retried = await load(store, tableName, ['--no-ttl', '--no-deletion-protection']);
  t.is(retried.code, 0, retried.stderr);
  t.regex(retried.stderr, new RegExp(`import attempt 1 ${literally(first!.import_arn)}: FAILED \\(ItemValidationError.*\\), and table ${tableName} does not exist: starting import attempt 2`));
  const token2 = importClientToken(sha256Hex(goodManifest), tableName, 2);
  t.regex(retried.stderr, new RegExp(`started \\(attempt 2, ClientToken ${token2}\\)`));
  const summary = JSON.parse(retried.stdout) as { ok: boolean; import: { attempt: number; attempts: ImportAttempt[] } };
  t.true(summary.ok);
  t.is(summary.import.attempt, 2);
  t.deepEqual(summary.import.attempts.map((a) => [a.attempt, a.status, a.failure_code]), [[1, 'FAILED', 'ItemValidationError'], [2, 'COMPLETED', undefined]]);
  t.is(summary.import.attempts[1]!.client_token, token2);
  t.like((await loadReport(run))!.import, { attempt: 2, client_token: token2, status: 'COMPLETED', imported_items: n });
  t.deepEqual((await recordedAttempts(run)).map((a) => a.status), ['FAILED', 'COMPLETED']);
  t.is(await countItems(tableName), n);
  // make report: the load's notes list both attempts.
  const notes = (await readRunReport(run))!.stages.filter((s) => s.stage === 'load').flatMap((s) => s.warnings);
  t.true(notes.some((w) => w.startsWith(`import attempt 1 ${first!.import_arn}: FAILED (ItemValidationError`)), notes.join('\n'));
  t.true(notes.some((w) => w.startsWith('import attempt 2 ') && w.endsWith(': COMPLETED')), notes.join('\n'));
});

test('a failed attempt 1 whose token is spent and which left no table (bucket missing): load records it and imports as attempt 2', async (t) => {
  const { store, run, manifest } = await fixtureRun();
  const tableName = randomName('imp_');
  const sha = sha256Hex((await run.getText(TRANSFORM_MANIFEST_KEY))!);
  // An earlier load's attempt 1, pointed at a bucket that did not exist: FAILED, S3NoSuchBucket, no table.
  const location = { ...itemsLocation(store, 'r'), bucket: randomName('no-such-bucket-') };
  const earlier = (await ddb.send(new ImportTableCommand(importTableRequest({ location, tableName, settings: DEFAULT_SETTINGS, clientToken: importClientToken(sha, tableName, 1) })))).ImportTableDescription!;
  let d = earlier;
  while (d.ImportStatus === 'IN_PROGRESS') d = (await ddb.send(new DescribeImportCommand({ ImportArn: earlier.ImportArn }))).ImportTableDescription!;
  t.like(d, { ImportStatus: 'FAILED', FailureCode: 'S3NoSuchBucket' });
  t.true(await tableMissing(tableName));

  const result = await load(store, tableName, ['--no-ttl', '--no-deletion-protection']);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stderr, /import attempt 1 .*: FAILED \(S3NoSuchBucket.*\) \(an earlier load's; its token is spent\): starting import attempt 2/);
  const report = (await loadReport(run))!;
  t.like(report.import, { attempt: 2, status: 'COMPLETED', imported_items: manifest.totals.items_out });
  t.deepEqual(report.import!.attempts.map((a) => [a.attempt, a.import_arn === earlier.ImportArn, a.status]), [[1, true, 'FAILED'], [2, false, 'COMPLETED']]);
});

test('an import found under this run\'s ClientToken that reads another S3 source is refused by name, not watched as this run\'s', async (t) => {
  const { store, run } = await fixtureRun();
  const tableName = randomName('imp_');
  const sha = sha256Hex((await run.getText(TRANSFORM_MANIFEST_KEY))!);
  // The same run and table imported earlier from elsewhere (the run since copied to this prefix).
  const elsewhere = { ...itemsLocation(store, 'r'), keyPrefix: `${randomName('moved-')}/r/items/` };
  const earlier = (await ddb.send(new ImportTableCommand(importTableRequest({ location: elsewhere, tableName, settings: DEFAULT_SETTINGS, clientToken: importClientToken(sha, tableName) })))).ImportTableDescription!;
  let d = earlier;
  while (d.ImportStatus === 'IN_PROGRESS') d = (await ddb.send(new DescribeImportCommand({ ImportArn: earlier.ImportArn }))).ImportTableDescription!;
  t.is(d.ImportStatus, 'COMPLETED');

  const result = await load(store, tableName);
  t.is(result.code, 1, result.stderr);
  const here = itemsLocation(store, 'r');
  t.true(result.stderr.includes(`load: error: import ${earlier.ImportArn} (ClientToken ${earlier.ClientToken}) into table ${tableName} reads s3://${elsewhere.bucket}/${elsewhere.keyPrefix} (DYNAMODB_JSON, GZIP), not s3://${here.bucket}/${here.keyPrefix} (DYNAMODB_JSON, GZIP) as this load asks`), result.stderr);
  t.regex(result.stderr, /point STORE back at that place, or load this one into another table \(DDB_TABLE=…\)$/m);
  t.is((await importsOnTable(tableName)).length, 1, 'no other import started');
  t.false((await loadReport(run))!.ok);
});
