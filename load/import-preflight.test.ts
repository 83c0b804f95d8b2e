import test from 'ava';
import { MAX_IMPORTS_IN_PROGRESS, MAX_IMPORT_OBJECTS, bucketRegionOf, importPreflightProblems, maxImportSourceBytes, type ImportPreflightFacts } from './import-preflight.ts';

const ok: ImportPreflightFacts = {
  tableName: 'serenya', bucket: 'migrations', keyPrefix: 'serenya/r1/items/', region: 'eu-central-1', bucketRegion: 'eu-central-1',
  objects: 10, rawBytes: 1000, importsInProgress: 0, importsInProgressLimit: MAX_IMPORTS_IN_PROGRESS,
};

test('the quotas are the documented ones: 50,000 objects, 50 imports in progress, 15 TB in three regions and 1 TB elsewhere', (t) => {
  t.is(MAX_IMPORT_OBJECTS, 50_000);
  t.is(MAX_IMPORTS_IN_PROGRESS, 50);
  for (const region of ['us-east-1', 'us-west-2', 'eu-west-1']) t.is(maxImportSourceBytes(region), 15e12, region);
  for (const region of ['eu-central-1', 'us-east-2', 'ap-southeast-2']) t.is(maxImportSourceBytes(region), 1e12, region);
  t.deepEqual(importPreflightProblems(ok), []);
});

test('more than 50,000 objects under the items prefix is refused, naming the limit and the fix', (t) => {
  t.deepEqual(importPreflightProblems({ ...ok, objects: 50_000 }), []);
  t.deepEqual(importPreflightProblems({ ...ok, objects: 50_001 }), [
    's3://migrations/serenya/r1/items/ holds 50001 objects; one ImportTable reads at most 50000: transform again with larger parts (fewer, bigger item files), or load with --mode batch',
  ]);
});

test('more uncompressed bytes than the region imports is refused: 1 TB in eu-central-1, 15 TB in eu-west-1', (t) => {
  t.deepEqual(importPreflightProblems({ ...ok, rawBytes: 1e12 }), []);
  const [problem] = importPreflightProblems({ ...ok, rawBytes: 1e12 + 1 });
  t.regex(problem!, /^the items are .* uncompressed \(1000000000001 bytes\); ImportTable in eu-central-1 imports at most 1 TB: import from us-east-1, us-west-2 or eu-west-1 \(15 TB\), ask AWS Support to raise the quota, or load with --mode batch$/);
  const west = { ...ok, region: 'eu-west-1', bucketRegion: 'eu-west-1' };
  t.deepEqual(importPreflightProblems({ ...west, rawBytes: 15e12 }), []);
  t.regex(importPreflightProblems({ ...west, rawBytes: 15e12 + 1 })[0]!, /ImportTable in eu-west-1 imports at most 15 TB/);
});

test('a bucket in another region than the table is refused; GetBucketLocation answers are read as S3 documents them', (t) => {
  t.is(bucketRegionOf(undefined), 'us-east-1');
  t.is(bucketRegionOf(''), 'us-east-1');
  t.is(bucketRegionOf('EU'), 'eu-west-1');
  t.is(bucketRegionOf('ap-south-1'), 'ap-south-1');
  t.deepEqual(importPreflightProblems({ ...ok, bucketRegion: 'us-east-1' }), [
    'bucket migrations is in us-east-1, table serenya would be in eu-central-1: ImportTable reads a bucket of the table\'s region: set AWS_REGION=us-east-1, or copy the run to a bucket in eu-central-1',
  ]);
});

test('50 imports IN_PROGRESS in the account refuse a 51st; 49 do not', (t) => {
  t.deepEqual(importPreflightProblems({ ...ok, importsInProgress: 49 }), []);
  t.deepEqual(importPreflightProblems({ ...ok, importsInProgress: 50 }), [
    '50 imports are IN_PROGRESS in eu-central-1; the account runs at most 50 at once: wait for one to end (aws dynamodb list-imports), then rerun make load',
  ]);
});
