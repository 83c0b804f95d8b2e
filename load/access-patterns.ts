// Verify (d): the app's access patterns answer the same from DynamoDB as SQL
// does on the source database. A pattern is declarative (see
// serenya-access-patterns.ts): which keys to sample, the SQL answer for a key,
// the DynamoDB Query for it. Rows the transform rejected (listed, with their
// primary key, in transform/rejects/<table>.jsonl) have no item, so SQL
// answers leave them out: `$2` is the array of their ids.
import { QueryCommand, type DynamoDBClient, type QueryCommandInput } from '@aws-sdk/client-dynamodb';
import type pg from 'pg';
import { UserError } from '../lib/errors.ts';
import { sha256Hex } from '../lib/meter.ts';
import { retry } from '../lib/retry.ts';
import { rejectsFileKey } from '../lib/run-layout.ts';
import type { Storage } from '../lib/storage.ts';
import { describeError, isRetryable } from './dynamo-errors.ts';
import { TTL_ATTRIBUTE } from '../model/table.ts';
import type { Check } from './verify-items.ts';

export interface AccessPattern {
  name: string;
  /** The source table whose rows answer (its rejects are left out; the pattern is skipped when the run lacks it). */
  table: string;
  /** The column identifying an answer row, in SQL and in the item's `data`. */
  id: string;
  /** SQL giving up to $1 sample keys, one row each: the values `query` and `answer` take, as text columns. */
  sample: string;
  /** SQL giving the answer ids for a sample row ($1.. the sample's columns in order, then the rejected ids array). */
  answer: string;
  /** The DynamoDB Query for the sample (TableName is filled in). */
  query: (sample: Record<string, string>) => Omit<QueryCommandInput, 'TableName'>;
  /** Compare answers in order (the pattern sorts) or as sets. */
  ordered: boolean;
  /**
   * The table has a TTL column: DynamoDB may delete an item once its `ttl` has
   * passed, and apps filter such items out. The Query then filters them out
   * too, and `answer` must leave out rows expired at `$n` (epoch seconds, the
   * parameter after the rejected ids).
   */
  ttl?: boolean;
}

type Client = Pick<DynamoDBClient, 'send'>;

/** The primary key values (`id`) of a table's rejected rows. */
async function rejectedIds(run: Storage, table: string, id: string): Promise<string[]> {
  const text = await run.getText(rejectsFileKey(table));
  return (text ?? '').split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { primary_key: Record<string, string | null> }).primary_key[id]).filter((v): v is string => !!v);
}

async function queryIds(client: Client, tableName: string, input: Omit<QueryCommandInput, 'TableName'>, id: string, aliveAt?: number): Promise<string[]> {
  if (aliveAt !== undefined) {
    input = {
      ...input,
      FilterExpression: 'attribute_not_exists(#ttl) OR #ttl >= :now',
      ExpressionAttributeNames: { ...input.ExpressionAttributeNames, '#ttl': TTL_ATTRIBUTE },
      ExpressionAttributeValues: { ...input.ExpressionAttributeValues, ':now': { N: String(aliveAt) } },
    };
  }
  const ids: string[] = [];
  let start: QueryCommandInput['ExclusiveStartKey'];
  do {
    const page = await retry(() => client.send(new QueryCommand({
      ...input, TableName: tableName,
      ProjectionExpression: '#data.#id',
      ExpressionAttributeNames: { ...input.ExpressionAttributeNames, '#data': 'data', '#id': id },
      ...(start ? { ExclusiveStartKey: start } : {}),
    })), { attempts: 10, retryable: isRetryable }).catch((err: unknown) => {
      throw new UserError(`Query on ${tableName} failed: ${describeError(err)}`);
    });
    for (const item of page.Items ?? []) ids.push(item.data?.M?.[id]?.S ?? '(no id)');
    // A Limit means "the first N": no further pages.
    start = input.Limit ? undefined : page.LastEvaluatedKey;
  } while (start);
  return ids;
}

const digest = (ids: string[]) => sha256Hex(ids.join('\n')).slice(0, 16);

export async function checkAccessPattern(
  pattern: AccessPattern, db: pg.Client, client: Client, run: Storage, tableName: string, sampleSize: number,
): Promise<Check> {
  const rejected = await rejectedIds(run, pattern.table, pattern.id);
  const samples = (await db.query<Record<string, string>>(pattern.sample, [sampleSize])).rows;
  const failures: Record<string, unknown>[] = [];
  let answers = 0;
  for (const sample of samples) {
    const values = Object.values(sample);
    const now = Math.floor(Date.now() / 1000);
    const expected = (await db.query<{ id: string }>(pattern.answer, [...values, rejected, ...(pattern.ttl ? [now] : [])])).rows.map((r) => r.id);
    const got = await queryIds(client, tableName, pattern.query(sample), pattern.id, pattern.ttl ? now : undefined);
    const [e, g] = pattern.ordered ? [expected, got] : [[...expected].sort(), [...got].sort()];
    answers += expected.length;
    if (e.join('\n') !== g.join('\n')) {
      // Sample keys and ids are hashed: emails, external ids and session ids must not reach logs.
      failures.push({ sample_hash: sha256Hex(values.join('\n')).slice(0, 16), sql_rows: e.length, dynamodb_items: g.length, sql_digest: digest(e), dynamodb_digest: digest(g) });
    }
  }
  return {
    name: `access pattern: ${pattern.name}`,
    ok: failures.length === 0 && samples.length > 0,
    numbers: { samples: samples.length, answers, mismatches: failures.length },
    failures,
    ...(samples.length === 0 ? { note: 'no sample rows in the source database' } : {}),
  };
}
