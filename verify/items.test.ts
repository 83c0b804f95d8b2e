import test from 'ava';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { RecordSorter } from './sorted-records.ts';
import { TABLE_RECORD_BYTES, bodyHashBytes, readBothSides, scanTableSide } from './items.ts';

test('an item body hashes apart from one where a lone surrogate became U+FFFD (DynamoDB keeps both as sent)', (t) => {
  t.notDeepEqual(bodyHashBytes({ PK: { S: 'A' }, v: { S: '\uD800' } }), bodyHashBytes({ PK: { S: 'A' }, v: { S: '\uFFFD' } }));
  t.notDeepEqual(bodyHashBytes({ PK: { S: 'A' }, v: { M: { k: { S: 'x\uDC00' } } } }), bodyHashBytes({ PK: { S: 'A' }, v: { M: { k: { S: 'x\uFFFD' } } } }));
  t.deepEqual(bodyHashBytes({ PK: { S: 'A' }, v: { S: '\uD800' } }), bodyHashBytes({ PK: { S: 'A' }, v: { S: '\uD800' } }));
  t.deepEqual(bodyHashBytes({ PK: { S: 'A' }, v: { S: 'é\u{1F600}' } }), bodyHashBytes({ v: { S: 'é\u{1F600}' }, PK: { S: 'A' } }));
});

test('when one side of verify fails, the other stops: the scan reads no more pages, and the error comes once both settled', async (t) => {
  const turns = async (n: number) => { for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r)); };
  let pages = 0;
  const client = {
    send: async () => {
      await turns(1);
      pages++;
      // A large table: a page follows every page (bounded, so the test ends either way).
      return { Items: [{ PK: { S: `k${pages}` }, SK: { S: 'x' } }], ScannedCount: 1, ...(pages < 1_000 ? { LastEvaluatedKey: { PK: { S: `k${pages}` } } } : {}) };
    },
  } as unknown as DynamoDBClient;
  const sorter = new RecordSorter(TABLE_RECORD_BYTES);
  t.teardown(() => sorter.close());
  await t.throwsAsync(readBothSides(
    (signal) => scanTableSide(client, 't', [0], 1, true, undefined, sorter, signal),
    async () => { await turns(3); throw new Error('items/users/part-00000.jsonl.gz: sha256 differs from the manifest'); },
  ), { message: /sha256 differs/ });
  const atError = pages;
  await turns(20);
  t.is(pages, atError, 'no page read after the error');
  t.true(atError < 10, `${atError} pages read`);
});
