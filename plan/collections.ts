// Partition keys, counted: item collections per PK (every item sharing a PK,
// across all tables) and the cardinality of GSI1PK / GSI2PK. Both decide
// whether the single-table design holds: a collection is one partition key's
// worth of reads and writes (and, were an LSI ever added, capped at 10 GB),
// and a GSI key with few distinct values (`JOB_STATUS#completed`) puts every
// write of that status on one hot index partition.
//
// Memory stays flat whatever the run's size. Each key pattern (the entity
// prefix before the first '#') has a tally that counts every distinct key
// exactly while all tallies of the plan together hold at most `maxKeys`
// (one KeyBudget); past that the tally holding the most keys switches to
// Misra-Gries (keeps the heaviest keys, with a stated error bound) for the
// largest key, and to a HyperLogLog (p = 14, ≈0.8 % standard error) for the
// number of distinct keys. Exact on the fixture and on runs up to `maxKeys`
// keys in all; approximate, and marked so, beyond. (A budget per pattern let
// memory grow with the number of patterns, ~30 MB each: make bench, plan RSS.)
//
// Keys embed user ids and hashes of personal data: they are never kept or
// printed as such. A key is named by its entity prefix and a sha256 prefix
// (`USER#…3fa2b1c4d5e6`); the prefix itself is shown only when it looks like
// an entity tag (upper-case letters, digits, '_').
import { createHash } from 'node:crypto';

/** DynamoDB's item collection limit (only with a local secondary index). */
export const COLLECTION_LIMIT_BYTES = 10 * 1024 ** 3;
/** A collection this large is reported: its reads and writes all land on one partition key. */
export const LARGE_COLLECTION_BYTES = 1024 ** 3;
/** One key holding this share of an index's items (once it has HOT_MIN_ITEMS) is a hot partition. */
export const HOT_SHARE = 0.1;
export const HOT_MIN_ITEMS = 1000;
/**
 * A key pattern is low-cardinality (a status, a type: its values do not grow
 * with the data) when it has at most LOW_CARDINALITY_VALUES distinct values,
 * LOW_CARDINALITY_ITEMS_PER_VALUE items per value on average, and one value
 * holds LOW_CARDINALITY_TOP_SHARE of its items. Per-user keys (one value per
 * user) have many values, each with a small share, and stay quiet.
 */
export const LOW_CARDINALITY_VALUES = 64;
export const LOW_CARDINALITY_ITEMS_PER_VALUE = 3;
export const LOW_CARDINALITY_TOP_SHARE = 0.25;
export const DEFAULT_MAX_KEYS = 200_000;
/** More distinct prefixes than this go to one '?' pattern (a generic mapping could otherwise make one per value). */
const MAX_PATTERNS = 200;

export interface HashedKey {
  /** `USER`, `JOB_STATUS`, … or '?' when the text before '#' is not an entity tag. */
  prefix: string;
  /** sha256 of the whole key, hex. */
  hash: string;
}

export function hashKey(key: string): HashedKey {
  const hash = createHash('sha256').update(key, 'utf8').digest('hex');
  const hashAt = key.indexOf('#');
  const head = hashAt < 0 ? '' : key.slice(0, hashAt);
  return { prefix: /^[A-Z][A-Z0-9_]{0,39}$/.test(head) ? head : '?', hash };
}

/** How a key appears in reports: entity prefix and 12 hex digits of its sha256. */
export function keyLabel(key: HashedKey): string {
  return `${key.prefix}#…${key.hash.slice(0, 12)}`;
}

/** HyperLogLog with 2^14 registers: distinct counts in 16 KB. */
export class HyperLogLog {
  private static readonly P = 14;
  private readonly registers = new Uint8Array(1 << HyperLogLog.P);

  /** `hash`: hex of a uniformly distributed hash (≥ 16 hex digits). */
  add(hash: string): void {
    const high = parseInt(hash.slice(0, 8), 16) >>> 0;
    const low = parseInt(hash.slice(8, 16), 16) >>> 0;
    const index = high >>> (32 - HyperLogLog.P);
    // The remaining 50 bits: the position of the first 1 bit, counted from 1.
    const restHigh = (high << HyperLogLog.P) >>> 0;
    let rank: number;
    if (restHigh !== 0) rank = Math.clz32(restHigh) + 1;
    else rank = 32 - HyperLogLog.P + (low !== 0 ? Math.clz32(low) + 1 : 33);
    if (rank > this.registers[index]!) this.registers[index] = rank;
  }

  estimate(): number {
    const m = this.registers.length;
    let sum = 0;
    let zeros = 0;
    for (const r of this.registers) {
      sum += 2 ** -r;
      if (r === 0) zeros++;
    }
    const alpha = 0.7213 / (1 + 1.079 / m);
    const raw = (alpha * m * m) / sum;
    // Small range: linear counting is exact-ish while registers are still empty.
    if (raw <= 2.5 * m && zeros > 0) return Math.round(m * Math.log(m / zeros));
    return Math.round(raw);
  }
}

export interface TallyEntry { items: number; bytes: number; weight: number }

export interface LargestKey {
  label: string;
  items: number;
  bytes: number;
  /** False once the tally overflowed: items/bytes are then lower bounds, and the true weight is at most weight + error. */
  exact: boolean;
  error: number;
}

/**
 * The distinct keys the tallies sharing it may hold together: a key that takes
 * them past `maxKeys` makes the tally holding the most keys shrink.
 */
export class KeyBudget {
  private readonly tallies: KeyTally[] = [];
  held = 0;

  constructor(readonly maxKeys = DEFAULT_MAX_KEYS) {}

  join(tally: KeyTally): void {
    this.tallies.push(tally);
  }

  /** One more key held somewhere. */
  added(): void {
    this.held++;
    if (this.held <= this.maxKeys) return;
    let largest = this.tallies[0]!;
    for (const tally of this.tallies) if (tally.size > largest.size) largest = tally;
    largest.shrink();
  }
}

/** Items and bytes per distinct key of one pattern, exact while its budget (maxKeys keys of its own, or a shared KeyBudget) lasts. */
export class KeyTally {
  private readonly entries = new Map<string, TallyEntry>();
  private readonly hll = new HyperLogLog();
  private readonly budget: KeyBudget;
  private overflowed = false;
  /** Total subtracted from every counter (Misra-Gries): any key's true weight ≤ its counter + this. */
  private decrement = 0;
  items = 0;
  bytes = 0;

  constructor(private readonly rankBy: 'items' | 'bytes', budget: number | KeyBudget = DEFAULT_MAX_KEYS) {
    this.budget = typeof budget === 'number' ? new KeyBudget(budget) : budget;
    this.budget.join(this);
  }

  get size(): number { return this.entries.size; }

  add(key: HashedKey, bytes: number): void {
    this.items++;
    this.bytes += bytes;
    this.hll.add(key.hash);
    const id = key.hash.slice(0, 24);
    let entry = this.entries.get(id);
    const isNew = !entry;
    if (!entry) {
      entry = { items: 0, bytes: 0, weight: 0 };
      this.entries.set(id, entry);
    }
    entry.items++;
    entry.bytes += bytes;
    entry.weight += this.rankBy === 'items' ? 1 : bytes;
    if (isNew) this.budget.added();
  }

  /** Misra-Gries, batched: subtract the median weight from every counter and drop those at zero. */
  shrink(): void {
    this.overflowed = true;
    const weights = [...this.entries.values()].map((e) => e.weight).sort((a, b) => a - b);
    const d = weights[Math.floor(weights.length / 2)]!;
    const before = this.entries.size;
    for (const [id, entry] of this.entries) {
      entry.weight -= d;
      if (entry.weight <= 0) this.entries.delete(id);
    }
    this.budget.held -= before - this.entries.size;
    this.decrement += d;
  }

  get exact(): boolean { return !this.overflowed; }

  distinct(): number {
    return this.overflowed ? this.hll.estimate() : this.entries.size;
  }

  largest(prefix: string): LargestKey | undefined {
    let best: [string, TallyEntry] | undefined;
    for (const pair of this.entries) if (!best || pair[1].weight > best[1].weight) best = pair;
    if (!best) return undefined;
    return { label: keyLabel({ prefix, hash: best[0] }), items: best[1].items, bytes: best[1].bytes, exact: !this.overflowed, error: this.decrement };
  }
}

export interface PatternSummary {
  /** `USER#…`: the entity prefix, never a value. */
  pattern: string;
  items: number;
  bytes: number;
  distinct: number;
  exact: boolean;
  largest?: LargestKey;
  /** The largest key's share of the pattern's items (among the items read). */
  largest_share: number;
}

export interface KeySpaceSummary {
  /** `PK`, `GSI1PK`, `GSI2PK`. */
  attribute: string;
  items: number;
  bytes: number;
  distinct: number;
  exact: boolean;
  largest?: LargestKey & { pattern: string };
  /** Largest key's share of the items under this attribute. */
  largest_share: number;
  patterns: PatternSummary[];
}

/** Every value of one key attribute across the run, grouped by entity prefix. */
export class KeySpace {
  private readonly patterns = new Map<string, KeyTally>();

  /** `budget`: shared with other key spaces (one plan), or a number of keys each pattern may hold. */
  constructor(readonly attribute: string, private readonly rankBy: 'items' | 'bytes', private readonly budget: number | KeyBudget = DEFAULT_MAX_KEYS) {}

  add(key: HashedKey, bytes: number): void {
    const prefix = this.patterns.has(key.prefix) || this.patterns.size < MAX_PATTERNS ? key.prefix : '?';
    let tally = this.patterns.get(prefix);
    if (!tally) {
      tally = new KeyTally(this.rankBy, this.budget);
      this.patterns.set(prefix, tally);
    }
    tally.add({ prefix, hash: key.hash }, bytes);
  }

  /** `scale` = 1 / sample fraction: counts of a sampled run stand for the whole run. */
  summary(scale = 1): KeySpaceSummary {
    const patterns: PatternSummary[] = [...this.patterns].map(([prefix, tally]) => {
      const largest = tally.largest(prefix);
      return {
        pattern: `${prefix}#…`,
        items: Math.round(tally.items * scale),
        bytes: Math.round(tally.bytes * scale),
        distinct: Math.round(tally.distinct() * scale),
        exact: tally.exact && scale === 1,
        ...(largest ? { largest } : {}),
        largest_share: largest && tally.items > 0 ? largest.items / tally.items : 0,
      };
    }).sort((a, b) => b.items - a.items || (a.pattern < b.pattern ? -1 : 1));
    const weight = (k: LargestKey | undefined) => (k ? (this.rankBy === 'items' ? k.items : k.bytes) : -1);
    let largest: (LargestKey & { pattern: string }) | undefined;
    for (const p of patterns) if (p.largest && weight(p.largest) > weight(largest)) largest = { ...p.largest, pattern: p.pattern };
    const items = patterns.reduce((n, p) => n + p.items, 0);
    return {
      attribute: this.attribute,
      items,
      bytes: patterns.reduce((n, p) => n + p.bytes, 0),
      distinct: patterns.reduce((n, p) => n + p.distinct, 0),
      exact: patterns.every((p) => p.exact),
      ...(largest ? { largest } : {}),
      largest_share: largest && items > 0 ? largest.items / (items / scale) : 0,
      patterns,
    };
  }
}

/** Warnings about collections (PK) and GSI partition keys, in plain words. */
export function keyWarnings(space: KeySpaceSummary): string[] {
  const warnings: string[] = [];
  const largest = space.largest;
  if (space.attribute === 'PK') {
    if (largest && largest.bytes >= COLLECTION_LIMIT_BYTES) {
      warnings.push(`item collection ${largest.label} holds ${largest.bytes} bytes, over 10 GB: an LSI could never be added, and all its reads and writes share one partition key`);
    } else if (largest && largest.bytes >= LARGE_COLLECTION_BYTES) {
      warnings.push(`item collection ${largest.label} holds ${largest.bytes} bytes (${(largest.bytes / COLLECTION_LIMIT_BYTES * 100).toFixed(0)}% of the 10 GB LSI limit): reads and writes of it share one partition key`);
    }
  }
  if (largest && space.items >= HOT_MIN_ITEMS && space.largest_share >= HOT_SHARE) {
    warnings.push(`${space.attribute} ${largest.label} holds ${(space.largest_share * 100).toFixed(0)}% of the ${space.items} items keyed by ${space.attribute}: a hot partition (one partition key takes at most 1000 WRU/s and 3000 RRU/s)`);
  }
  if (space.attribute !== 'PK') {
    for (const p of space.patterns) {
      if (p.pattern === '?#…') continue;
      if (p.largest && p.distinct <= LOW_CARDINALITY_VALUES && p.items >= LOW_CARDINALITY_ITEMS_PER_VALUE * p.distinct && p.largest_share >= LOW_CARDINALITY_TOP_SHARE) {
        warnings.push(`${space.attribute} ${p.pattern} is a low-cardinality key: ${p.distinct} distinct values for ${p.items} items, the largest (${p.largest.label}) holds ${(p.largest_share * 100).toFixed(0)}%; its values do not grow with the data, so each is one hot index partition (consider write sharding, e.g. a #0..#9 suffix)`);
      }
    }
  }
  return warnings;
}
