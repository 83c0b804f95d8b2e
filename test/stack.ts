// The one shared setup for integration tests: they run against the local stack
// that `make test` (scripts/stack.ts run) starts, and never skip without it.
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { CreateTableCommand, DeleteTableCommand, ScanCommand, waitUntilTableExists, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { tableCreationParameters } from '../model/table-spec.ts';
import type { FixtureKind } from '../fixtures/hostile.ts';
import { loadFixtureDatabase } from '../fixtures/load.ts';
import type { Storage } from '../lib/storage.ts';
import { readEnvFile, type StackEnv } from '../scripts/stack/env-file.ts';
import { repoRoot } from '../scripts/stack/paths.ts';
import { createDatabase, dropDatabase } from '../scripts/stack/postgres.ts';

export function stackEnvFile(): string {
  return process.env.STACK_ENV_FILE ?? path.join(repoRoot, '.local', 'test', 'env');
}

/** The stack's variables (DATABASE_URL, PG_ADMIN_URL, AWS_ENDPOINT_URL_S3, STORE, …). */
export function stackEnv(): StackEnv {
  const file = stackEnvFile();
  const env = readEnvFile(file);
  if (!env) throw new Error(`the local stack is not up: run the tests with \`make test\` (no ${file})`);
  return env;
}

export function randomName(prefix: string, bytes = 6): string {
  return `${prefix}${randomBytes(bytes).toString('hex')}`;
}

/**
 * A database of its own for one test, on the stack's server, loaded with the
 * fixtures unless `load: false`; dropped when the test ends.
 */
export async function freshDatabase(t: ExecutionContext, opts: { scale?: number; load?: boolean; fixture?: FixtureKind } = {}): Promise<string> {
  const adminUrl = stackEnv().PG_ADMIN_URL!;
  const name = randomName('t_');
  const url = await createDatabase(adminUrl, name);
  // Work a failed test left running gets a moment to finish before its sessions are ended.
  t.teardown(() => dropDatabase(adminUrl, name, { waitForSessionsMs: 10_000 }));
  if (opts.load !== false) await loadFixtureDatabase(url, { scale: opts.scale, fixture: opts.fixture });
  return url;
}

/** A STORE of its own for one test: s3://<stack bucket>/<random>. */
export function freshBucketPrefix(): string {
  return `s3://${stackEnv().S3_BUCKET}/${randomName('t-')}`;
}

/** A DynamoDB table of its own for one test, as load creates it (model/table-spec.ts); deleted when the test ends. */
export async function freshDynamoTable(t: ExecutionContext, ddb: DynamoDBClient, prefix: string): Promise<string> {
  const TableName = randomName(prefix);
  await ddb.send(new CreateTableCommand(tableCreationParameters(TableName, {})));
  t.teardown(async () => { await ddb.send(new DeleteTableCommand({ TableName })); });
  await waitUntilTableExists({ client: ddb, maxWaitTime: 30 }, { TableName });
  return TableName;
}

/** The items in a DynamoDB table, counted by a paged Scan (Select COUNT). */
export async function scanCount(ddb: DynamoDBClient, table: string): Promise<number> {
  let count = 0;
  let start: Record<string, never> | undefined;
  do {
    const page = await ddb.send(new ScanCommand({ TableName: table, Select: 'COUNT', ExclusiveStartKey: start }));
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey as typeof start;
  } while (start);
  return count;
}

/** Keys a sharded or stopped run writes besides its outputs: the shards' fragments, the coordinator's plan and its lock (renewed while it runs), the timed report. */
const BOOKKEEPING = (key: string) => key.startsWith('extract/shards/') || key.startsWith('transform/shards/') || key === 'extract/plan.json' || key === 'report.json' || key.startsWith('.locks/');

/** Every output of a run by key → sha256 (its bookkeeping left out, and any key `skip` names), to compare runs byte for byte. */
export async function runOutputs(run: Storage, skip: (key: string) => boolean = () => false): Promise<Record<string, string>> {
  const keys = (await run.list('')).map((o) => o.key).filter((k) => !BOOKKEEPING(k) && !skip(k));
  const hashes: Record<string, string> = {};
  for (const key of keys.sort()) {
    const hash = createHash('sha256');
    for await (const chunk of await run.get(key)) hash.update(chunk as Buffer);
    hashes[key] = hash.digest('hex');
  }
  return hashes;
}
