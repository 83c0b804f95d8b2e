// Verify (a), (b), (c): the table holds exactly the run's items, in memory that
// does not grow with the table. Both sides become sorted runs of fixed-size
// records on local disk (sorted-records.ts), keyed by a hash of (PK, SK):
//   table side: one parallel Scan of whole items → key hash, body hash, entity_type;
//   run side:   every line of the item files     → key hash, body hash, unit, line.
// One merge of the two then finds (a) counts per entity_type, (b) every item
// equal by a canonical hash of its body, not sampled, (c) keys only the table has.
// Items are named by file position and a hash of their key, never by value.
// crypto.hash: one call, no Hash object (a third of the cost of createHash for a 1 KB text).
import { hash } from 'node:crypto';
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { UserError } from '../lib/errors.ts';
import { runPool } from '../lib/pool.ts';
import type { Storage } from '../lib/storage.ts';
import type { ItemPart, TransformTable } from '../lib/transform-manifest.ts';
import { canonicalValue, differingAttributes, fromItemValue, toItemValue, type ItemJson } from '../model/attribute-json.ts';
import { describeError } from '../lib/dynamo-errors.ts';
import { parseItemLine, readPartItems, readPartLines } from '../lib/item-files.ts';
import { parallelScan } from '../lib/parallel-scan.ts';
import { RecordSorter, SORT_KEY_BYTES, compareKeys } from './sorted-records.ts';
import type { Check } from '../lib/verify-report.ts';
import { PRIMARY_KEY, TTL_ATTRIBUTE } from '../model/table.ts';

type Client = Pick<DynamoDBClient, 'send'>;


const MAX_LISTED = 50;
const HASH_BYTES = 16;
/** Table side: key hash, body hash, entity_type (index into the side's type list, u16). */
export const TABLE_RECORD_BYTES = 2 * HASH_BYTES + 2;
/** Run side: key hash, body hash, unit (index into the run's units, u32), line (u32), expired by ttl (u8). */
export const RUN_RECORD_BYTES = 2 * HASH_BYTES + 9;

/** 16 bytes of sha256(PK \0 SK): the sort key of both sides (its hex prefix is `keyHash`, what reports print). */
function keyHashBytes(item: ItemJson): Buffer {
  const pk = (item[PRIMARY_KEY.partition] as { S?: string } | undefined)?.S;
  const sk = (item[PRIMARY_KEY.sort] as { S?: string } | undefined)?.S;
  return hash('sha256', `${pk}\0${sk}`, 'buffer');
}

/** 16 bytes of sha256 of the item's canonical text: equal ⇔ DynamoDB holds equal items (model/attribute-json.ts). */
export function bodyHashBytes(item: ItemJson): Buffer {
  const text = canonicalValue({ M: item });
  // UTF-8 turns a lone surrogate into U+FFFD, which DynamoDB keeps apart: such a text is hashed as
  // UTF-16 (its second byte is 0, never the ':' of "M:{" in UTF-8, so the two forms cannot meet).
  return hash('sha256', (text as string & { isWellFormed(): boolean }).isWellFormed() ? text : Buffer.from(text, 'utf16le'), 'buffer');
}

/** One item file of the run; its index in `runUnits` is what run-side records name. */
export interface RunUnit { table: string; entity_type?: string; part: ItemPart }

/** Every item file of `tables`, in manifest order (table, then part). */
export function runUnits(tables: TransformTable[]): RunUnit[] {
  return tables.flatMap((t) => t.parts.map((part) => ({ table: t.name, entity_type: t.entity_type, part })));
}

/** What a Scan of the table found besides its records. */
export interface TableSide {
  /** Every item scanned, whatever its entity_type. */
  in_table: number;
  /** Items per entity_type (only the selected types when `only` is given). */
  counts: Record<string, number>;
  /** The names behind the records' type indexes. */
  types: string[];
}

/**
 * Scans `segments` of `totalSegments` (whole items) into `sorter`. Items of
 * entity types outside `only` are counted in `in_table` and otherwise left alone.
 */
export async function scanTableSide(
  client: Client, tableName: string, segments: number[], totalSegments: number, consistent: boolean,
  only: Set<string> | undefined, sorter: RecordSorter, signal?: AbortSignal,
): Promise<TableSide> {
  const side: TableSide = { in_table: 0, counts: {}, types: [] };
  const typeIndex = new Map<string, number>();
  await parallelScan({
    client, tableName, segments, totalSegments, consistentRead: consistent, ...(signal ? { signal } : {}),
    onPage: (items) => {
      for (const value of items) {
        side.in_table++;
        const item = fromItemValue(value);
        const type = (item.entity_type as { S?: string } | undefined)?.S ?? '(none)';
        if (only && !only.has(type)) continue;
        side.counts[type] = (side.counts[type] ?? 0) + 1;
        let index = typeIndex.get(type);
        if (index === undefined) {
          index = side.types.push(type) - 1;
          if (index > 0xffff) throw new UserError(`${tableName} holds more than 65536 entity_type values: verify compares tables of one single-table design`);
          typeIndex.set(type, index);
        }
        const { buffer, at } = sorter.slot();
        keyHashBytes(item).copy(buffer, at, 0, HASH_BYTES);
        bodyHashBytes(item).copy(buffer, at + HASH_BYTES, 0, HASH_BYTES);
        buffer.writeUInt16BE(index, at + 2 * HASH_BYTES);
      }
    },
  });
  return side;
}

/**
 * Reads the item files `unitIndexes` of `units` (each checked against the manifest's sha256) into `sorter`.
 * `ttlOn`: the table's TTL deletes by `ttl`; without it, nothing expires and a missing item is lost.
 */
export async function readRunSide(run: Storage, units: RunUnit[], unitIndexes: number[], concurrency: number, sorter: RecordSorter, ttlOn: boolean, stop?: AbortSignal): Promise<void> {
  const now = ttlOn ? Date.now() / 1000 : -Infinity;
  await runPool(unitIndexes, concurrency, async (index, { signal }) => {
    const unit = units[index]!;
    for await (const f of readPartItems(run, unit.table, unit.part)) {
      if (signal.aborted || stop?.aborted) return;
      const { buffer, at } = sorter.slot();
      keyHashBytes(f.item).copy(buffer, at, 0, HASH_BYTES);
      bodyHashBytes(f.item).copy(buffer, at + HASH_BYTES, 0, HASH_BYTES);
      buffer.writeUInt32BE(index, at + 2 * HASH_BYTES);
      buffer.writeUInt32BE(f.line, at + 2 * HASH_BYTES + 4);
      buffer.writeUInt8(isExpired(f.item, now) ? 1 : 0, at + 2 * HASH_BYTES + 8);
    }
  });
}

/**
 * The table side and the run side read at once. The first to fail stops the
 * other (a scan pays for every page it reads on) and is rethrown once both have
 * settled, so neither writes into a sorter its caller closes on the error.
 */
export async function readBothSides(tableSide: (signal: AbortSignal) => Promise<TableSide>, runSide: (signal: AbortSignal) => Promise<void>): Promise<TableSide> {
  let side: TableSide | undefined;
  await runPool([tableSide, runSide], 2, async (read, { signal }) => {
    const out = await read(signal);
    if (out) side = out;
  });
  return side!;
}

/** DynamoDB's TTL rule: an item whose `ttl` (epoch seconds) is before now may be deleted. */
function isExpired(item: ItemJson, now: number): boolean {
  const ttl = (item[TTL_ATTRIBUTE] as { N?: string } | undefined)?.N;
  return ttl !== undefined && Number(ttl) < now;
}

/** A table-side record with the type list of the side it came from. */
export interface TableRecord { record: Buffer; types: string[] }

interface Position { unit: number; line: number; key: Buffer }

/** The first `MAX_LISTED` positions in (unit, line) order, whatever order they arrive in. */
class FirstPositions {
  readonly list: Position[] = [];
  add(p: Position): void {
    this.list.push({ ...p, key: Buffer.from(p.key.subarray(0, HASH_BYTES)) });
    if (this.list.length >= 4 * MAX_LISTED) this.trim();
  }
  trim(): Position[] {
    this.list.sort((a, b) => a.unit - b.unit || a.line - b.line);
    this.list.length = Math.min(this.list.length, MAX_LISTED);
    return this.list;
  }
}

export interface Comparison {
  check: Check;
  stray: Check;
  /** Items whose `ttl` had passed, missing from the table, per entity_type. */
  expired: Map<string, number>;
}

/**
 * The merge: both sides in key-hash order. A key on both sides compares body
 * hashes; one only in the run is missing (or expired by ttl); one only in the
 * table is a stray. The differing items listed are then read again (the run's
 * line, the table's item by key) to name the attributes that differ.
 */
export async function compareSides(
  client: Client, run: Storage, tableName: string, units: RunUnit[], inTable: number,
  tableSide: AsyncIterable<TableRecord>, runSide: AsyncIterable<Buffer>, consistent: boolean,
): Promise<Comparison> {
  const expired = new Map<string, number>();
  let compared = 0;
  let equal = 0;
  let expiredCount = 0;
  let missingCount = 0;
  let differingCount = 0;
  let strayCount = 0;
  const missing = new FirstPositions();
  const differing = new FirstPositions();
  const strays: Record<string, unknown>[] = [];
  const position = (r: Buffer): Position => ({ unit: r.readUInt32BE(2 * HASH_BYTES), line: r.readUInt32BE(2 * HASH_BYTES + 4), key: r });

  const tables = tableSide[Symbol.asyncIterator]();
  const runs = runSide[Symbol.asyncIterator]();
  let t = await tables.next();
  let r = await runs.next();
  while (!t.done || !r.done) {
    const order = t.done ? 1 : r.done ? -1 : compareKeys(t.value.record, r.value);
    if (order < 0) {
      strayCount++;
      const { record, types } = t.value as TableRecord;
      if (strays.length < MAX_LISTED) strays.push({ problem: 'stray', entity_type: types[record.readUInt16BE(2 * HASH_BYTES)] ?? null, key_hash: hex(record) });
      t = await tables.next();
      continue;
    }
    const runRecord = r.value as Buffer;
    compared++;
    if (order === 0) {
      const same = t.value!.record.compare(runRecord, HASH_BYTES, 2 * HASH_BYTES, HASH_BYTES, 2 * HASH_BYTES) === 0;
      if (same) equal++;
      else { differingCount++; differing.add(position(runRecord)); }
      t = await tables.next();
    } else if (runRecord.readUInt8(2 * HASH_BYTES + 8) === 1) {
      expiredCount++;
      const type = units[runRecord.readUInt32BE(2 * HASH_BYTES)]?.entity_type ?? '(none)';
      expired.set(type, (expired.get(type) ?? 0) + 1);
    } else {
      missingCount++;
      missing.add(position(runRecord));
    }
    r = await runs.next();
  }

  const describe = (p: Position) => ({ table: units[p.unit]!.table, part: units[p.unit]!.part.key, line: p.line, key_hash: hex(p.key) });
  const differs = await differingNames(client, run, tableName, units, differing.trim(), consistent);
  return {
    expired,
    check: {
      name: 'every item of the run equals the table\'s',
      ok: missingCount === 0 && differingCount === 0,
      numbers: { compared, equal, missing: missingCount, differing: differingCount, expired_by_ttl: expiredCount },
      failures: [
        ...missing.trim().map((p) => ({ problem: 'missing', ...describe(p) })),
        ...differing.list.map((p, i) => ({ problem: 'differs', ...describe(p), attributes: differs[i]! })),
      ],
    },
    stray: { name: 'no item the run did not write', ok: strayCount === 0, numbers: { in_table: inTable, in_run: compared, stray: strayCount }, failures: strays },
  };
}

/** `keyHash` of a record's key: the hex of its first 8 bytes. */
const hex = (record: Buffer) => record.toString('hex', 0, SORT_KEY_BYTES / 2);

/** The attribute names that differ, per listed position: the run's line read again, the table's item fetched by key. */
async function differingNames(client: Client, run: Storage, tableName: string, units: RunUnit[], listed: Position[], consistent: boolean): Promise<string[][]> {
  const names: string[][] = [];
  const byUnit = new Map<number, Map<number, number>>();
  listed.forEach((p, i) => {
    const lines = byUnit.get(p.unit) ?? new Map<number, number>();
    lines.set(p.line, i);
    byUnit.set(p.unit, lines);
  });
  for (const [unit, lines] of byUnit) {
    const part = units[unit]!.part;
    let left = lines.size;
    for await (const { text, line } of readPartLines(run, part)) {
      const i = lines.get(line);
      if (i === undefined) continue;
      const item = parseItemLine(run, part, text, line);
      const got = await getItem(client, tableName, item, consistent);
      names[i] = differingAttributes(item, got ? fromItemValue(got) : {});
      if (--left === 0) break;
    }
  }
  return names;
}

async function getItem(client: Client, tableName: string, item: ItemJson, consistent: boolean) {
  const key = toItemValue({ [PRIMARY_KEY.partition]: item[PRIMARY_KEY.partition]!, [PRIMARY_KEY.sort]: item[PRIMARY_KEY.sort]! });
  const out = await client.send(new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: consistent }))
    .catch((err: unknown) => { throw new UserError(`GetItem on ${tableName} failed: ${describeError(err)}`); });
  return out.Item;
}

/**
 * (a): items per entity_type in the table against the manifest's items_out.
 * Items whose `ttl` has passed may be deleted by DynamoDB at any time: those
 * (b) found missing are counted as expired, not lost.
 */
export function countCheck(tables: TransformTable[], actual: Map<string, number>, expired: Map<string, number>, only?: Set<string>): Check {
  const expected = new Map<string, number>();
  for (const t of tables) if (t.entity_type) expected.set(t.entity_type, (expected.get(t.entity_type) ?? 0) + t.items_out);
  const counted = new Map([...actual].filter(([name]) => !only || only.has(name)));
  const names = [...new Set([...expected.keys(), ...counted.keys()])].sort();
  const numbers: Record<string, number> = {};
  const failures: Record<string, unknown>[] = [];
  for (const name of names) {
    const e = expected.get(name) ?? 0;
    const a = counted.get(name) ?? 0;
    const x = expired.get(name) ?? 0;
    numbers[`${name}.expected`] = e;
    numbers[`${name}.actual`] = a;
    if (x > 0) numbers[`${name}.expired_by_ttl`] = x;
    if (e !== a + x) failures.push({ entity_type: name, expected: e, actual: a, ...(x > 0 ? { expired_by_ttl: x } : {}) });
  }
  numbers.expired_by_ttl = [...expired.values()].reduce((n, v) => n + v, 0);
  numbers.expected_total = [...expected.values()].reduce((n, x) => n + x, 0);
  numbers.actual_total = [...counted.values()].reduce((n, x) => n + x, 0);
  return { name: 'counts per entity_type', ok: failures.length === 0, numbers, failures };
}
