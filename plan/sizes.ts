// Item sizes by DynamoDB's rules (model/item-size.ts), per table: what a
// write costs (1 WRU per started KB), what a read costs (1 RRU per started
// 4 KB) and how large items get. Sizes are kept as an exact histogram
// (size → count): at most 400 KB distinct sizes, so memory stays bounded
// however many items there are, and p99 is exact, not estimated.
import { attributeSize, MAX_ITEM_BYTES } from '../model/item-size.ts';
import type { AttributeValue } from '../model/attribute.ts';
import type { ItemJson } from '../model/attribute-json.ts';

export { MAX_ITEM_BYTES };

/** A write request unit covers 1 KB; a read request unit 4 KB (strongly consistent). */
export const WRITE_UNIT_BYTES = 1024;
export const READ_UNIT_BYTES = 4096;

/** An item's size: every top-level attribute's name bytes plus its value's size. */
export function itemSizeBytes(item: ItemJson): number {
  let size = 0;
  for (const name in item) {
    // The item files hold only the types transform writes (no sets), which attributeSize covers.
    size += Buffer.byteLength(name, 'utf8') + attributeSize(item[name] as AttributeValue);
  }
  return size;
}

export function writeUnits(sizeBytes: number): number {
  return Math.max(1, Math.ceil(sizeBytes / WRITE_UNIT_BYTES));
}

export function readUnits(sizeBytes: number): number {
  return Math.max(1, Math.ceil(sizeBytes / READ_UNIT_BYTES));
}

/** Exact distribution of item sizes. */
export class SizeHistogram {
  private readonly counts = new Map<number, number>();
  items = 0;
  bytes = 0;
  max = 0;
  /** Σ ceil(size / 1 KB): the WRUs of writing every item once. */
  writeUnits = 0;
  /** Σ ceil(size / 4 KB): the RRUs of reading every item once, strongly consistent. */
  readUnits = 0;

  add(size: number, count = 1): void {
    this.counts.set(size, (this.counts.get(size) ?? 0) + count);
    this.items += count;
    this.bytes += size * count;
    this.writeUnits += writeUnits(size) * count;
    this.readUnits += readUnits(size) * count;
    if (size > this.max) this.max = size;
  }

  merge(other: SizeHistogram): void {
    for (const [size, count] of other.counts) this.add(size, count);
  }

  /** The smallest size s such that at least q of the items are ≤ s (nearest rank). */
  quantile(q: number): number {
    if (this.items === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.items));
    let seen = 0;
    for (const size of [...this.counts.keys()].sort((a, b) => a - b)) {
      seen += this.counts.get(size)!;
      if (seen >= rank) return size;
    }
    return this.max;
  }

  /** Items over a size: how many items a limit or a KB boundary affects. */
  countAbove(bytes: number): number {
    let n = 0;
    for (const [size, count] of this.counts) if (size > bytes) n += count;
    return n;
  }
}
