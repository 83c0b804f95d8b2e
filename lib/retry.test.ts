import test from 'ava';
import { backoffDelay, retry } from './retry.ts';

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
