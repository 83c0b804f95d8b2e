import test from 'ava';
import { BATCH_WRITE_BYTES, BATCH_WRITE_LIMIT, batches } from './batch-write.ts';
import { describeError } from './dynamo-errors.ts';

async function* from<T>(values: T[]): AsyncGenerator<T> { yield* values; }
async function collect<T>(source: AsyncIterable<T[]>): Promise<T[][]> {
  const out: T[][] = [];
  for await (const b of source) out.push(b);
  return out;
}

test('batches hold at most 25 requests and at most 4 MB of request bytes; a larger request goes alone', async (t) => {
  const small = Array.from({ length: 60 }, () => 100);
  t.deepEqual((await collect(batches(from(small), BATCH_WRITE_LIMIT, (b) => b))).map((b) => b.length), [25, 25, 10]);
  const mb = 1024 * 1024;
  // Items of a few MB on the wire (400 KB by DynamoDB's count): DynamoDB Local answered 413 to three in one call.
  const big = [1.5 * mb, 1.5 * mb, 1.5 * mb, 5 * mb, 100];
  const cut = await collect(batches(from(big), BATCH_WRITE_LIMIT, (b) => b));
  t.deepEqual(cut, [[1.5 * mb, 1.5 * mb], [1.5 * mb], [5 * mb], [100]]);
  for (const b of cut) t.true(b.length === 1 || b.reduce((n, x) => n + x, 0) <= BATCH_WRITE_BYTES);
});

test('an HTTP 413 is named as a request too large', (t) => {
  const err = Object.assign(new Error('UnknownError'), { name: 'Unknown', $metadata: { httpStatusCode: 413 } });
  t.regex(describeError(err), /too large \(HTTP 413/);
});
