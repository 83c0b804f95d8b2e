import test from 'ava';
import type { BatchWriteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DYNAMODB_RETRY } from '../lib/aws.ts';
import { BATCH_WRITE_BYTES, BATCH_WRITE_LIMIT, batchWrite, batches, type SizedWrite } from './batch-write.ts';
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

const noWait = async () => {};
const turns = async (n: number) => { for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r)); };
const put = (n: number): SizedWrite => ({ request: { PutRequest: { Item: { PK: { S: `k${n}` }, SK: { S: 'x' } } } }, bytes: 40 });

test('resends of unprocessed items do not multiply the client\'s own retries: a batch stops resending once its attempts reach the throttling policy\'s', async (t) => {
  // Each call comes back after the SDK's retry step made 20 attempts (throttled 19 times), its batch still unprocessed.
  let attempts = 0;
  const client = {
    send: async (command: BatchWriteItemCommand) => {
      attempts += 20;
      return { UnprocessedItems: command.input.RequestItems, $metadata: { attempts: 20 } };
    },
  } as unknown as DynamoDBClient;
  const err = await t.throwsAsync(batchWrite(from([put(1)]), { client, tableName: 't', concurrency: 1, sleep: noWait }));
  t.regex(err!.message, /still unprocessed after 60 BatchWriteItem attempts/);
  // Before, 15 resends of such calls: 300 attempts (15 × 60 attempts, over 4 h of throttled waits, at worst).
  t.true(attempts < 2 * DYNAMODB_RETRY.throttling.attempts, `${attempts} attempts`);
});

test('once a batch fails, the batches in flight stop: their calls are aborted and nothing more is resent', async (t) => {
  const signals: (AbortSignal | undefined)[] = [];
  let resends = 0;
  const client = {
    send: async (command: BatchWriteItemCommand, options?: { abortSignal?: AbortSignal }) => {
      const requests = command.input.RequestItems!.t!;
      if (requests.some((r) => r.PutRequest!.Item!.PK!.S === 'k0')) {
        // Fails while the other batch's first call is in flight.
        await turns(2);
        throw Object.assign(new Error('Item size has exceeded the maximum allowed size'), { name: 'ValidationException', $metadata: { httpStatusCode: 400, attempts: 1 } });
      }
      signals.push(options?.abortSignal);
      if (signals.length > 1) resends++;
      // Answers once the other batch has failed: every item unprocessed, as under throttling.
      await turns(5);
      return { UnprocessedItems: command.input.RequestItems, $metadata: { attempts: 1 } };
    },
  } as unknown as DynamoDBClient;
  const items = Array.from({ length: 50 }, (_, n) => put(n));
  await t.throwsAsync(batchWrite(from(items), { client, tableName: 't', concurrency: 2, sleep: noWait }), { message: /ValidationException/ });
  t.is(resends, 0);
  t.true(signals[0]?.aborted, 'the call in flight was given the pool\'s signal, now aborted');
});
