import test from 'ava';
import { checkImportSource, describeAttempt } from './import-attempts.ts';
import { importTableRequest } from './import-table.ts';
import { DEFAULT_SETTINGS } from '../model/table-spec.ts';

const request = importTableRequest({ location: { bucket: 'migrations', keyPrefix: 'serenya/r1/items/' }, tableName: 'serenya', settings: DEFAULT_SETTINGS, clientToken: 'pg2ddb-x' });
const returned = { ImportArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/serenya/import/01700000000000-0a1b2c3d', ClientToken: 'pg2ddb-x', S3BucketSource: { S3Bucket: 'migrations', S3KeyPrefix: 'serenya/r1/items/' }, InputFormat: 'DYNAMODB_JSON' as const, InputCompressionType: 'GZIP' as const };

test('the import DynamoDB returns for a token must read what the request names: bucket, prefix, format, compression', (t) => {
  t.notThrows(() => checkImportSource(request, returned));
  const differs = [
    { S3BucketSource: { S3Bucket: 'old-bucket', S3KeyPrefix: 'serenya/r1/items/' } },
    { S3BucketSource: { S3Bucket: 'migrations', S3KeyPrefix: 'serenya/r0/items/' } },
    { InputFormat: 'CSV' as const },
    { InputCompressionType: 'NONE' as const },
  ];
  for (const change of differs) {
    const err = t.throws(() => checkImportSource(request, { ...returned, ...change }));
    t.regex(err!.message, /^import arn:aws:dynamodb:.*\/import\/01700000000000-0a1b2c3d \(ClientToken pg2ddb-x\) into table serenya reads s3:\/\/.* \(.*\), not s3:\/\/migrations\/serenya\/r1\/items\/ \(DYNAMODB_JSON, GZIP\) as this load asks: .*: point STORE back at that place, or load this one into another table \(DDB_TABLE=…\)$/, JSON.stringify(change));
  }
});

test('an attempt is described by number, import, status and failure', (t) => {
  t.is(describeAttempt({ attempt: 2, client_token: 't', import_arn: 'arn:x', status: 'FAILED', failure_code: 'S3NoSuchBucket', failure_message: 'The specified bucket does not exist' }),
    'import attempt 2 arn:x: FAILED (S3NoSuchBucket: The specified bucket does not exist)');
  t.is(describeAttempt({ attempt: 1, client_token: 't', import_arn: 'arn:y', status: 'COMPLETED' }), 'import attempt 1 arn:y: COMPLETED');
});
