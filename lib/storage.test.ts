import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openStorage } from './storage.ts';

test('a STORE directory that cannot be created fails at once, naming the cause, instead of spinning', async (t) => {
  // /proc refuses new entries; Node's recursive mkdir loops forever there.
  const put = openStorage('/proc/pg2ddb-no-such/run').put('extract/manifest.json', '{}');
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => { timer = setTimeout(() => resolve('hung'), 10_000); });
  const outcome = await Promise.race([put.then(() => 'written', (err: Error) => err), hung]);
  clearTimeout(timer);
  t.true(outcome instanceof Error, `expected a failure, got ${String(outcome)}`);
  t.regex((outcome as Error).message, /\/proc\/pg2ddb-no-such.*(no such file or directory|ENOENT|permission denied|operation not permitted)/);
});

test('getRange reads a range of a local object whole, fewer bytes where it ends, and names a missing one', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-storage-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = openStorage(dir);
  await store.put('a/b.keys', Buffer.from('0123456789'));
  t.is((await store.getRange('a/b.keys', 2, 5)).toString(), '234');
  t.is((await store.getRange('a/b.keys', 8, 20)).toString(), '89');
  t.is((await store.getRange('a/b.keys', 3, 3)).length, 0);
  await t.throwsAsync(store.getRange('a/none.keys', 0, 4), { message: `cannot read file://${dir}/a/none.keys: no such file or directory (ENOENT)` });
});
