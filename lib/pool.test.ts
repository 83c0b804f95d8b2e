import test from 'ava';
import { mapPool, runPool } from './pool.ts';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}
const turns = async (n = 10) => { for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r)); };

test('mapPool returns every result in the items\' order and never runs more than `concurrency` at once', async (t) => {
  let running = 0;
  let most = 0;
  const seen: number[] = [];
  const out = await mapPool([5, 1, 4, 2, 3], 2, async (n, { index }) => {
    running++;
    most = Math.max(most, running);
    seen.push(index);
    // Later items finish first: the order of results must not follow the order of finishing.
    await turns(n);
    running--;
    return n * 10;
  });
  t.deepEqual(out, [50, 10, 40, 20, 30]);
  t.is(most, 2);
  t.deepEqual(seen.sort(), [0, 1, 2, 3, 4]);
});

test('the first failure stops new work, aborts the slot signal, and is rethrown only after the items in flight settle', async (t) => {
  const slow = deferred();
  const started: number[] = [];
  let slowSettled = false;
  let aborted = false;
  const done = runPool([0, 1, 2, 3, 4], 2, async (n, { signal }) => {
    started.push(n);
    if (n === 0) {
      await slow.promise;
      aborted = signal.aborted;
      slowSettled = true;
      return;
    }
    throw new Error(`item ${n} failed`);
  });
  let rejected = false;
  done.catch(() => { rejected = true; });
  await turns();
  t.false(rejected, 'not rethrown while item 0 is still running');
  t.deepEqual(started, [0, 1], 'no item started after the failure');
  slow.resolve();
  await t.throwsAsync(done, { message: 'item 1 failed' });
  t.true(slowSettled);
  t.true(aborted);
});

test('workers share an async source; a failure closes the source; each worker says when it is done', async (t) => {
  let closed = false;
  let pulled = 0;
  async function* source() {
    try {
      for (let i = 0; i < 100; i++) { pulled++; yield i; }
    } finally {
      closed = true;
    }
  }
  const workersDone: number[] = [];
  await t.throwsAsync(runPool(source(), 3, async (n) => {
    await turns(1);
    if (n === 4) throw new Error('four');
  }, { onWorkerDone: (w) => { workersDone.push(w); } }), { message: 'four' });
  t.true(closed);
  t.true(pulled < 100, `stopped pulling (pulled ${pulled})`);
  t.deepEqual(workersDone.sort(), [0, 1, 2]);
});

test('an empty source and a concurrency below one still finish', async (t) => {
  t.deepEqual(await mapPool([], 4, async () => 1), []);
  t.deepEqual(await mapPool([1, 2], 0, async (n) => n + 1), [2, 3]);
});
