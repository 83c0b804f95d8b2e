// `make aws-probe` against the local stack: the endpoint must answer every case
// as the probe expects, so the probe's expectations cannot drift from what the
// endpoint does (and a run against AWS compares AWS with the endpoint as it is).
import test from 'ava';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { openStorage } from '../lib/storage.ts';
import { runCli } from './cli.ts';
import { freshBucketPrefix, stackEnv } from './stack.ts';

test('the probe finds no difference between the local endpoint and its expectations, and leaves no table or object', async (t) => {
  const env = stackEnv();
  const store = freshBucketPrefix();
  const result = await runCli('scripts/aws-probe.ts', [], { ...env, STORE: store }, 600_000);
  t.is(result.code, 0, `${result.stdout}\n${result.stderr}`);
  const rows = result.stdout.split('\n').filter((line) => / (same|DIFFERENT)$/.test(line));
  t.true(rows.length >= 20, `one row per observation (${rows.length})`);
  t.true(rows.every((line) => line.endsWith(' same')), result.stdout);
  for (const edge of ['blank-lines', 'zero-byte-gzip', 'zero-byte-zstd', 'malformed-mid', 'duplicate-keys', 'key-size', 'client-token']) {
    t.true(rows.some((line) => line.startsWith(`${edge} `)), `${edge} is probed`);
  }
  t.regex(result.stderr, /aws-probe: no difference/);

  const ddb = dynamoClient(env);
  t.teardown(() => ddb.destroy());
  const tables: string[] = [];
  let ExclusiveStartTableName: string | undefined;
  do {
    const page = await ddb.send(new ListTablesCommand({ ExclusiveStartTableName }));
    tables.push(...(page.TableNames ?? []));
    ExclusiveStartTableName = page.LastEvaluatedTableName;
  } while (ExclusiveStartTableName);
  t.deepEqual(tables.filter((name) => name.startsWith('aws-probe-')), [], 'its tables are deleted');
  t.deepEqual(await openStorage(store, env).list(''), [], 'its objects are deleted');
});
