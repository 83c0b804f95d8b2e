// The write check each writing stage runs before its work: one small object put
// and deleted, bounded in time. An unwritable store fails in seconds with one
// line; an endpoint that never answers (a blackholed network path, a wrong
// port behind a firewall) fails at the timeout instead of hanging, since the
// SDK sets no request timeout of its own.
import type { Argv } from 'yargs';
import { numberText } from './config.ts';
import { UserError } from './errors.ts';
import type { Storage } from './storage.ts';

export const DEFAULT_STORE_TIMEOUT_SECONDS = 30;

export function storeTimeoutOption<T>(argv: Argv<T>) {
  return argv.option('store-timeout', {
    type: 'string',
    // Read as text: STORE_TIMEOUT=abc is refused as typed, not replaced by the default.
    default: process.env.STORE_TIMEOUT || String(DEFAULT_STORE_TIMEOUT_SECONDS),
    coerce: numberText('store-timeout'),
    defaultDescription: `$STORE_TIMEOUT or ${DEFAULT_STORE_TIMEOUT_SECONDS}`,
    describe: 'Seconds the store may take to accept the write check made before any work',
  });
}

/** Puts and deletes `<run>/<key>`; a failure or no answer within `timeoutSeconds` is a UserError naming the object. */
export async function checkStoreWritable(run: Storage, key: string, timeoutSeconds: number): Promise<void> {
  if (!(timeoutSeconds > 0)) throw new UserError(`invalid --store-timeout ${timeoutSeconds}: a number of seconds above 0`, 2);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UserError(
      `cannot write ${run.uri}/${key}: no answer within ${timeoutSeconds} s (is the store's endpoint reachable? --store-timeout or STORE_TIMEOUT waits longer)`,
      // The unanswered request would keep the process alive: exit at once.
      1, true,
    )), timeoutSeconds * 1000);
  });
  const check = (async () => {
    await run.put(key, 'pg2ddb write check\n');
    await run.delete(key);
  })();
  try {
    await Promise.race([check, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
