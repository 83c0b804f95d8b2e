// The one bounded-concurrency pool: `concurrency` workers take items in order
// from one list or stream. The first failure stops new work; the items already
// running settle (their files and connections close) before it is rethrown, so
// a failed stage never leaves work running behind its error.

export interface PoolSlot {
  /** The item's position in the source (0-based). */
  index: number;
  /** Which worker runs it (0 … concurrency−1): state a worker keeps, such as a connection, is keyed by it. */
  worker: number;
  /** Aborted once an item has failed: work still running may stop early through it. */
  signal: AbortSignal;
}

export interface PoolOptions {
  /** Called when a worker takes no more items (the source ran out or the pool is stopping), e.g. to close its connection. */
  onWorkerDone?: (worker: number) => void | Promise<void>;
}

/** Runs `work` on every item of `items`, at most `concurrency` at a time (at least one). */
export async function runPool<T>(
  items: Iterable<T> | AsyncIterable<T>, concurrency: number, work: (item: T, slot: PoolSlot) => Promise<void>, options: PoolOptions = {},
): Promise<void> {
  // An async generator queues concurrent next() calls, so workers can share one iterator.
  const source = Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : items[Symbol.iterator]();
  const stop = new AbortController();
  let failure: { error: unknown } | undefined;
  let taken = 0;
  const fail = (error: unknown) => {
    if (failure) return;
    failure = { error };
    stop.abort();
  };
  const worker = async (id: number): Promise<void> => {
    try {
      while (!failure) {
        let next: IteratorResult<T>;
        try {
          next = await source.next();
        } catch (err) {
          fail(err);
          return;
        }
        if (next.done || failure) return;
        const index = taken++;
        try {
          await work(next.value, { index, worker: id, signal: stop.signal });
        } catch (err) {
          fail(err);
        }
      }
    } finally {
      await Promise.resolve(options.onWorkerDone?.(id)).catch(fail);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.floor(concurrency) || 1) }, (_, id) => worker(id)));
  if (failure) {
    // Close what the source holds open (a generator reading files).
    await Promise.resolve(source.return?.()).catch(() => {});
    throw failure.error;
  }
}

/** `work`'s results for every item of `items`, in the items' order, computed at most `concurrency` at a time. */
export async function mapPool<T, R>(items: readonly T[], concurrency: number, work: (item: T, slot: PoolSlot) => Promise<R>, options: PoolOptions = {}): Promise<R[]> {
  const results = new Array<R>(items.length);
  await runPool(items, concurrency, async (item, slot) => { results[slot.index] = await work(item, slot); }, options);
  return results;
}
