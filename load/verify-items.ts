// Verify (a), (b), (c): the table holds exactly the run's items.
// (a) a parallel Scan counts items per entity_type against the transform manifest;
// (b) every item of the run's files is read back (BatchGetItem) and compared, every attribute;
// (c) any key the Scan found that no file has is a stray.
// Items are named by file position and a hash of their key, never by value.
import { BatchGetItemCommand, type DynamoDBClient, type KeysAndAttributes } from '@aws-sdk/client-dynamodb';
import { UserError } from '../lib/errors.ts';
import { retry } from '../lib/retry.ts';
import type { Storage } from '../lib/storage.ts';
import type { TransformTable } from '../lib/transform-manifest.ts';
import { differingAttributes, fromItemValue, toItemValue, type ItemValue } from './attribute-json.ts';
import { batches } from './batch-write.ts';
import { describeError, isRetryable } from './dynamo-errors.ts';
import { itemKey, keyHash, readPartItems, type FileItem } from './item-files.ts';
import { parallelScan } from './scan.ts';
import { PRIMARY_KEY, TTL_ATTRIBUTE } from './table-spec.ts';

type Client = Pick<DynamoDBClient, 'send'>;

export interface Check {
  name: string;
  ok: boolean;
  /** The numbers the verdict rests on. */
  numbers: Record<string, number>;
  /** What failed, by position / key hash (first 50). */
  failures: Record<string, unknown>[];
  note?: string;
}

const MAX_LISTED = 50;
export const BATCH_GET_LIMIT = 100;

/** Every key in the table with its entity_type (one consistent parallel Scan, keys and type only). */
export async function scanKeys(client: Client, tableName: string, segments: number): Promise<Map<string, string | undefined>> {
  const keys = new Map<string, string | undefined>();
  await parallelScan({
    client, tableName, segments,
    input: {
      ProjectionExpression: '#pk, #sk, #type',
      ExpressionAttributeNames: { '#pk': PRIMARY_KEY.partition, '#sk': PRIMARY_KEY.sort, '#type': 'entity_type' },
    },
    onPage: (items) => {
      for (const item of items) keys.set(itemKey(item as Record<string, { S?: string }>), item.entity_type?.S);
    },
  });
  return keys;
}

/**
 * (a): items per entity_type in the table against the manifest's items_out.
 * Items whose `ttl` has passed may be deleted by DynamoDB at any time: those
 * (b) found missing are counted as expired, not lost.
 */
export function countCheck(tables: TransformTable[], tableKeys: Map<string, string | undefined>, expired: Map<string, number>, only?: Set<string>): Check {
  const expected = new Map<string, number>();
  for (const t of tables) if (t.entity_type) expected.set(t.entity_type, (expected.get(t.entity_type) ?? 0) + t.items_out);
  const actual = new Map<string, number>();
  for (const type of tableKeys.values()) {
    const name = type ?? '(none)';
    if (only && !only.has(name)) continue;
    actual.set(name, (actual.get(name) ?? 0) + 1);
  }
  const names = [...new Set([...expected.keys(), ...actual.keys()])].sort();
  const numbers: Record<string, number> = {};
  const failures: Record<string, unknown>[] = [];
  for (const name of names) {
    const e = expected.get(name) ?? 0;
    const a = actual.get(name) ?? 0;
    const x = expired.get(name) ?? 0;
    numbers[`${name}.expected`] = e;
    numbers[`${name}.actual`] = a;
    if (x > 0) numbers[`${name}.expired_by_ttl`] = x;
    if (e !== a + x) failures.push({ entity_type: name, expected: e, actual: a, ...(x > 0 ? { expired_by_ttl: x } : {}) });
  }
  numbers.expired_by_ttl = [...expired.values()].reduce((n, v) => n + v, 0);
  numbers.expected_total = [...expected.values()].reduce((n, x) => n + x, 0);
  numbers.actual_total = [...actual.values()].reduce((n, x) => n + x, 0);
  return { name: 'counts per entity_type', ok: failures.length === 0, numbers, failures };
}

/** (b) and the run's key set for (c). */
export async function compareItems(
  client: Client, run: Storage, tableName: string, tables: TransformTable[], concurrency: number,
): Promise<{ check: Check; runKeys: Set<string>; expired: Map<string, number> }> {
  const runKeys = new Set<string>();
  const expired = new Map<string, number>();
  let expiredCount = 0;
  let compared = 0;
  let equal = 0;
  const missing: Record<string, unknown>[] = [];
  const differing: Record<string, unknown>[] = [];
  let missingCount = 0;
  let differingCount = 0;

  async function* fileItems(): AsyncGenerator<FileItem> {
    for (const t of tables) for (const part of t.parts) yield* readPartItems(run, t.name, part);
  }
  const source = batches(fileItems(), BATCH_GET_LIMIT)[Symbol.asyncIterator]();
  const compareBatch = async (batch: FileItem[]) => {
    const byKey = new Map(batch.map((f) => [itemKey(f.item), f]));
    for (const key of byKey.keys()) runKeys.add(key);
    const found = await batchGet(client, tableName, batch.map((f) => toItemValue({
      [PRIMARY_KEY.partition]: f.item[PRIMARY_KEY.partition]!, [PRIMARY_KEY.sort]: f.item[PRIMARY_KEY.sort]!,
    })));
    for (const [key, f] of byKey) {
      compared++;
      const position = { table: f.table, part: f.part, line: f.line, key_hash: keyHash(key) };
      const got = found.get(key);
      if (!got) {
        if (isExpired(f)) {
          expiredCount++;
          const type = (f.item.entity_type as { S?: string } | undefined)?.S ?? '(none)';
          expired.set(type, (expired.get(type) ?? 0) + 1);
          continue;
        }
        missingCount++;
        if (missing.length < MAX_LISTED) missing.push(position);
        continue;
      }
      const attributes = differingAttributes(f.item, fromItemValue(got));
      if (attributes.length > 0) {
        differingCount++;
        if (differing.length < MAX_LISTED) differing.push({ ...position, attributes });
      } else {
        equal++;
      }
    }
  };
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined) {
      const next = await source.next().catch((err: unknown) => { failure ??= err; return { done: true as const, value: undefined }; });
      if (next.done) return;
      await compareBatch(next.value).catch((err: unknown) => { failure ??= err; });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failure !== undefined) {
    await source.return?.(undefined).catch(() => {});
    throw failure;
  }
  return {
    runKeys,
    expired,
    check: {
      name: 'every item of the run equals the table\'s',
      ok: missingCount === 0 && differingCount === 0,
      numbers: { compared, equal, missing: missingCount, differing: differingCount, expired_by_ttl: expiredCount },
      failures: [...missing.map((m) => ({ problem: 'missing', ...m })), ...differing.map((d) => ({ problem: 'differs', ...d }))],
    },
  };
}

/** DynamoDB's TTL rule: an item whose `ttl` (epoch seconds) is before now may be deleted. */
function isExpired(f: FileItem): boolean {
  const ttl = (f.item[TTL_ATTRIBUTE] as { N?: string } | undefined)?.N;
  return ttl !== undefined && Number(ttl) < Date.now() / 1000;
}

/** BatchGetItem (strongly consistent) with UnprocessedKeys resent after a backoff: key → item. */
async function batchGet(client: Client, tableName: string, keys: ItemValue[]): Promise<Map<string, ItemValue>> {
  const found = new Map<string, ItemValue>();
  let pending: KeysAndAttributes = { Keys: keys, ConsistentRead: true };
  await retry(async () => {
    const out = await client.send(new BatchGetItemCommand({ RequestItems: { [tableName]: pending } }));
    for (const item of out.Responses?.[tableName] ?? []) found.set(itemKey(item as Record<string, { S?: string }>), item as ItemValue);
    const left = out.UnprocessedKeys?.[tableName];
    if (left?.Keys && left.Keys.length > 0) {
      pending = left;
      throw Object.assign(new Error('unprocessed keys'), { $retryable: true });
    }
  }, { attempts: 15, retryable: isRetryable }).catch((err: unknown) => {
    throw new UserError(`BatchGetItem on ${tableName} failed: ${describeError(err)}`);
  });
  return found;
}

/** (c): keys in the table that no item file has. */
export function strayCheck(tableKeys: Map<string, string | undefined>, runKeys: Set<string>, only?: Set<string>): Check {
  const strays: Record<string, unknown>[] = [];
  let count = 0;
  for (const [key, type] of tableKeys) {
    if (only && !only.has(type ?? '(none)')) continue;
    if (runKeys.has(key)) continue;
    count++;
    if (strays.length < MAX_LISTED) strays.push({ problem: 'stray', entity_type: type ?? null, key_hash: keyHash(key) });
  }
  return { name: 'no item the run did not write', ok: count === 0, numbers: { in_table: tableKeys.size, in_run: runKeys.size, stray: count }, failures: strays };
}
