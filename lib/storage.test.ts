import test from 'ava';
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
