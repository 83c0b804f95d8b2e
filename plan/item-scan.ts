// One pass over a transform run's item files: per table the exact item-size
// histogram and what each GSI holds; across tables the partition keys
// (collections) and GSI keys, counted in flat memory (collections.ts).
//
// `fraction` < 1 analyses the items whose PK hashes into that fraction:
// whole collections are kept or left together, so a sampled collection's size
// is exact, and counts scale by 1 / fraction. Every byte is still read (the
// files are checked against the manifest's sha256), but a line left out is
// never parsed: its PK is read from the fixed start of the line
// (`{"Item":{"PK":{"S":…`, the order transform writes), which is where the
// time goes on a large run.
import { UserError } from '../lib/errors.ts';
import { runPool } from '../lib/pool.ts';
import type { Storage } from '../lib/storage.ts';
import type { ItemPart, TransformTable } from '../lib/transform-manifest.ts';
import type { ItemJson } from '../model/attribute-json.ts';
import { parseItemLine, readPartLines } from '../lib/item-files.ts';
import { INDEXES, PRIMARY_KEY } from '../model/table.ts';
import { DEFAULT_MAX_KEYS, KeyBudget, KeySpace, hashKey, type HashedKey } from './collections.ts';
import { SizeHistogram, itemSizeBytes, writeUnits } from './sizes.ts';

export interface IndexUsage {
  /** Items carrying both of the index's key attributes (only those appear in a GSI). */
  items: number;
  /** Their sizes: with projection ALL an index entry is the whole item. */
  bytes: number;
  /** Σ ceil(size / 1 KB): the WRUs of writing each entry once. */
  write_units: number;
}

export interface TableScan {
  name: string;
  /** Lines read. */
  read: number;
  /** Items analysed (all of them unless sampling). */
  analysed: number;
  sizes: SizeHistogram;
  indexes: Record<string, IndexUsage>;
}

export interface RunScan {
  fraction: number;
  tables: TableScan[];
  collections: KeySpace;
  indexKeys: KeySpace[];
}

export interface ScanOptions {
  fraction: number;
  maxKeys?: number;
  concurrency?: number;
}

const PK_AT_LINE_START = /^\{"Item":\{"PK":\{"S":("(?:[^"\\]|\\.)*")\}/;

/** Whether a PK falls in the sampled fraction: its hash's first 32 bits, as a fraction of 2^32. */
export function inSample(key: HashedKey, fraction: number): boolean {
  return fraction >= 1 || parseInt(key.hash.slice(0, 8), 16) / 2 ** 32 < fraction;
}

export async function scanItems(run: Storage, tables: TransformTable[], options: ScanOptions): Promise<RunScan> {
  // One budget for every key of the plan: memory does not grow with the run or its number of key patterns.
  const budget = new KeyBudget(options.maxKeys ?? DEFAULT_MAX_KEYS);
  const collections = new KeySpace(PRIMARY_KEY.partition, 'bytes', budget);
  const indexKeys = INDEXES.map((index) => new KeySpace(index.partition, 'items', budget));
  const scans = tables.map((table): TableScan => ({
    name: table.name, read: 0, analysed: 0, sizes: new SizeHistogram(),
    indexes: Object.fromEntries(INDEXES.map((index) => [index.name, { items: 0, bytes: 0, write_units: 0 }])),
  }));

  const onItem = (scan: TableScan, pk: HashedKey, item: ItemJson): void => {
    const size = itemSizeBytes(item);
    scan.analysed++;
    scan.sizes.add(size);
    collections.add(pk, size);
    INDEXES.forEach((index, i) => {
      const partition = (item[index.partition] as { S?: string } | undefined)?.S;
      const sort = (item[index.sort] as { S?: string } | undefined)?.S;
      if (partition === undefined || sort === undefined) return;
      const usage = scan.indexes[index.name]!;
      usage.items++;
      usage.bytes += size;
      usage.write_units += writeUnits(size);
      indexKeys[i]!.add(hashKey(partition), size);
    });
  };

  const units = tables.flatMap((table, t) => table.parts.map((part) => ({ scan: scans[t]!, part })));
  await runPool(units, options.concurrency ?? 4, ({ scan, part }) => scanPart(run, part, options.fraction, scan, onItem));
  return { fraction: options.fraction, tables: scans, collections, indexKeys };
}

async function scanPart(
  run: Storage, part: ItemPart, fraction: number, scan: TableScan,
  onItem: (scan: TableScan, pk: HashedKey, item: ItemJson) => void,
): Promise<void> {
  for await (const { text, line } of readPartLines(run, part)) {
    scan.read++;
    const head = PK_AT_LINE_START.exec(text);
    let item: ItemJson | undefined;
    let pkText: string | undefined;
    if (head) {
      pkText = JSON.parse(head[1]!) as string;
    } else {
      item = parseItemLine(run, part, text, line);
      pkText = (item[PRIMARY_KEY.partition] as { S?: string } | undefined)?.S;
    }
    if (pkText === undefined) throw new UserError(`${run.uri}/${part.key} line ${line} has no ${PRIMARY_KEY.partition} of type S`);
    const pk = hashKey(pkText);
    if (!inSample(pk, fraction)) continue;
    onItem(scan, pk, item ?? parseItemLine(run, part, text, line));
  }
}

