import test from 'ava';
import type { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { parallelScan } from './parallel-scan.ts';

const turns = async (n: number) => { for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r)); };

test('a segment that fails stops the other segments: they read no more pages and their calls in flight are aborted', async (t) => {
  let otherPages = 0;
  const signals: (AbortSignal | undefined)[] = [];
  const client = {
    send: async (command: ScanCommand, options?: { abortSignal?: AbortSignal }) => {
      await turns(1);
      if (command.input.Segment === 0) throw Object.assign(new Error('Requested resource not found'), { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 400 } });
      otherPages++;
      signals.push(options?.abortSignal);
      // A large segment: a page follows every page (bounded, so the test ends either way).
      return { Items: [], ScannedCount: 1, ...(otherPages < 1_000 ? { LastEvaluatedKey: { PK: { S: `k${otherPages}` } } } : {}) };
    },
  } as unknown as DynamoDBClient;
  await t.throwsAsync(parallelScan({ client, tableName: 't', segments: 2, onPage: () => {} }), { message: /cannot scan t: ResourceNotFoundException/ });
  const atError = otherPages;
  await turns(20);
  t.is(otherPages, atError, 'no page read after the error');
  t.true(atError < 5, `${atError} pages of the other segment`);
  t.true(signals.every((s) => s !== undefined), 'each call can be aborted');
});
