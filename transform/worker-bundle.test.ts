import test from 'ava';
import { Worker } from 'node:worker_threads';
import { workerBundle } from './worker-bundle.ts';

// The bundle lives in .local/cache/transform-worker/<hash>/: a module that reads
// a file relative to itself at import (lib/config.ts once read ../package.json)
// crashed every multi-unit transform with ENOENT before any task ran.
test('the worker bundle loads in a worker thread and stays up until terminated', async (t) => {
  const worker = new Worker(workerBundle().entry);
  const failure = new Promise<Error | null>((resolve) => {
    worker.once('error', resolve);
    worker.once('online', () => setTimeout(() => resolve(null), 1500));
  });
  const err = await failure;
  await worker.terminate();
  t.is(err?.message ?? null, null);
});
