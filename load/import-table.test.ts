import test from 'ava';
import { describeLogEvent, importClientToken, importTableRequest, itemsLocation, judgeImport, logGroupName } from './import-table.ts';
import { DEFAULT_SETTINGS, tableCreationParameters } from '../model/table-spec.ts';

const sha = 'a'.repeat(64);

test('ClientToken: derived from the transform manifest hash and the table, ≤ 36 characters, no $', (t) => {
  const token = importClientToken(sha, 'serenya');
  t.is(token, importClientToken(sha, 'serenya'), 'same run and table ⇒ same token (a rerun resumes the import)');
  t.not(token, importClientToken('b'.repeat(64), 'serenya'), 'another manifest ⇒ another import');
  t.not(token, importClientToken(sha, 'serenya2'), 'another table ⇒ another import');
  t.regex(token, /^[^$]+$/);
  t.true(token.length <= 36);
});

test('ClientToken per attempt: attempt 1 is the token loads always had, each later attempt its own', (t) => {
  const first = importClientToken(sha, 'serenya');
  t.is(importClientToken(sha, 'serenya', 1), first);
  const tokens = [1, 2, 3, 4].map((n) => importClientToken(sha, 'serenya', n));
  t.is(new Set(tokens).size, 4);
  for (const token of tokens) t.regex(token, /^pg2ddb-[0-9a-f]{29}$/);
  t.throws(() => importClientToken(sha, 'serenya', 0));
});

test('the ImportTable request, field by field (API reference: ImportTable)', (t) => {
  const location = itemsLocation('s3://migrations/serenya/', '2026-11-28');
  t.deepEqual(location, { bucket: 'migrations', keyPrefix: 'serenya/2026-11-28/items/' });
  t.deepEqual(itemsLocation('s3://migrations', 'r1'), { bucket: 'migrations', keyPrefix: 'r1/items/' });
  t.throws(() => itemsLocation('./out', 'r1'), { message: /import mode reads the items from S3/ });
  const request = importTableRequest({ location, tableName: 'serenya', settings: DEFAULT_SETTINGS, clientToken: importClientToken(sha, 'serenya') });
  t.deepEqual(Object.keys(request).sort(), ['ClientToken', 'InputCompressionType', 'InputFormat', 'S3BucketSource', 'TableCreationParameters']);
  t.deepEqual(request.S3BucketSource, { S3Bucket: 'migrations', S3KeyPrefix: 'serenya/2026-11-28/items/' });
  t.is(request.InputFormat, 'DYNAMODB_JSON');
  t.is(request.InputCompressionType, 'GZIP');
  t.deepEqual(request.TableCreationParameters, tableCreationParameters('serenya', DEFAULT_SETTINGS));
  const crossAccount = importTableRequest({ location, bucketOwner: '123456789012', tableName: 'serenya', settings: DEFAULT_SETTINGS, clientToken: 'x' });
  t.deepEqual(crossAccount.S3BucketSource, { S3Bucket: 'migrations', S3KeyPrefix: 'serenya/2026-11-28/items/', S3BucketOwner: '123456789012' });
  t.throws(() => importTableRequest({ location, bucketOwner: '1234', tableName: 'serenya', settings: DEFAULT_SETTINGS, clientToken: 'x' }), { message: /12 digits/ });
});

test('the end state is judged against the manifest', (t) => {
  t.true(judgeImport({ ImportStatus: 'COMPLETED', ImportedItemCount: 10, ProcessedItemCount: 10, ErrorCount: 0 }, 10).ok);
  t.deepEqual(judgeImport({ ImportStatus: 'COMPLETED', ImportedItemCount: 9, ProcessedItemCount: 10, ErrorCount: 1 }, 10).problems, [
    'ErrorCount 1 (expected 0)', 'ImportedItemCount 9 ≠ 10 items in the transform manifest',
  ]);
  t.regex(judgeImport({ ImportStatus: 'FAILED', FailureCode: 'ItemValidationError', FailureMessage: 'bad', ImportedItemCount: 0 }, 10).problems[0]!, /FAILED with FailureCode ItemValidationError: bad/);
});

test('CloudWatch: the log group from its ARN; an error entry shows its position, not the item', (t) => {
  t.is(logGroupName('arn:aws:logs:eu-west-1:123456789012:log-group:/aws-dynamodb/imports:*'), '/aws-dynamodb/imports');
  t.is(logGroupName(undefined), '/aws-dynamodb/imports');
  t.is(describeLogEvent(JSON.stringify({ itemS3Pointer: { bucket: 'b', key: 'r/items/users/part-00000.json.gz', itemIndex: 3 }, importArn: 'x', errorMessages: ['Unable to parse the item'] })),
    's3://b/r/items/users/part-00000.json.gz item 3: Unable to parse the item');
});
