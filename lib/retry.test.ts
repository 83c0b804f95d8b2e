import test from 'ava';
import { awsRetryStrategy, backoffDelay, retry, type AwsErrorType } from './retry.ts';

test('backoff grows exponentially up to the cap, with full jitter', (t) => {
  t.is(backoffDelay(0, { baseMs: 50, random: () => 0.999 }), 49);
  t.is(backoffDelay(3, { baseMs: 50, random: () => 0.5 }), 200);
  t.is(backoffDelay(20, { baseMs: 50, capMs: 5000, random: () => 0.5 }), 2500);
  t.is(backoffDelay(5, { random: () => 0 }), 0);
});

test('retry stops at the first success, on a non-retryable error, or after the attempts', async (t) => {
  const waits: number[] = [];
  let calls = 0;
  t.is(await retry(async () => { if (++calls < 3) throw new Error('busy'); return 'ok'; }, { attempts: 5, sleep: async (ms) => { waits.push(ms); } }), 'ok');
  t.is(calls, 3);
  t.is(waits.length, 2);
  await t.throwsAsync(retry(async () => { throw new Error('fatal'); }, { attempts: 5, retryable: () => false, sleep: async () => {} }), { message: 'fatal' });
  let n = 0;
  await t.throwsAsync(retry(async () => { n++; throw new Error('again'); }, { attempts: 4, sleep: async () => {} }), { message: 'again' });
  t.is(n, 4);
});

test('a retried AWS call is said once it has waited 10 s after failures other than throttling; throttling alone stays in --verbose', async (t) => {
  // Each wait its bound (random = 1): 4 s per failure, so the third failure other than throttling passes 10 s.
  const strategy = awsRetryStrategy({ throttling: { attempts: 10, baseMs: 4000, capMs: 4000 }, transient: { attempts: 10, baseMs: 4000, capMs: 4000 } }, { random: () => 1 });
  // The notices a sequence of failed attempts of one call writes to stderr.
  const said = async (types: AwsErrorType[], other: object = { name: 'InternalServerError', $metadata: { httpStatusCode: 500 } }): Promise<string[]> => {
    const lines: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => { lines.push(String(chunk)); return true; }) as typeof process.stderr.write;
    try {
      let token = await strategy.acquireInitialRetryToken('');
      for (const errorType of types) {
        const error = errorType === 'THROTTLING' ? { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } } : other;
        token = await strategy.refreshRetryTokenForRetry(token, { errorType, error });
      }
    } finally {
      process.stderr.write = write;
    }
    return lines;
  };
  t.deepEqual(await said(['THROTTLING', 'THROTTLING', 'THROTTLING', 'THROTTLING']), []);
  t.deepEqual(await said(['SERVER_ERROR', 'SERVER_ERROR']), []);
  const third = await said(['SERVER_ERROR', 'SERVER_ERROR', 'SERVER_ERROR']);
  t.is(third.length, 1);
  t.regex(third[0]!, /attempt 3 of 10 failed \(HTTP 500 InternalServerError\)/);
  // Two throttles and one 500 are one failure other than throttling, not three: a throttling storm with a rare 5xx says nothing.
  t.deepEqual(await said(['THROTTLING', 'THROTTLING', 'SERVER_ERROR']), []);
  t.is((await said(['THROTTLING', 'SERVER_ERROR', 'THROTTLING', 'SERVER_ERROR', 'SERVER_ERROR'])).length, 1);
  // A timeout is said at once: it came after the socket's whole timeout of silence (DynamoDB's: 5 min), not in a moment.
  const timedOut = await said(['TRANSIENT'], { name: 'TimeoutError' });
  t.is(timedOut.length, 1);
  t.regex(timedOut[0]!, /attempt 1 of 10 failed \(TimeoutError\)/);
  // A reset the SDK also names TimeoutError is a quick failure like any other: said only past 10 s of waiting.
  t.deepEqual(await said(['TRANSIENT'], { name: 'TimeoutError', code: 'ECONNRESET' }), []);
});
