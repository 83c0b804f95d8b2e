// `--shard i/n`: which units of a stage one machine (or one array job) does.
// The split is a pure function of the unit list, so every shard computes the
// same assignment on its own and no scheduler has to hand units out.
import { UserError } from './errors.ts';
import type { Storage } from './storage.ts';

/** Shard `index` (1-based) of `count`. */
export interface Shard { index: number; count: number }

/**
 * The most shards of one run: a Step Functions Distributed Map runs at most
 * 10,000 children at once, and more machines than that is not a plan. A map
 * over more units than this gives each child a group of them (`mapShardCount`).
 */
export const MAX_SHARDS = 10_000;

export function parseShard(text: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || count > MAX_SHARDS || index < 1 || index > count) {
    throw new UserError(`invalid --shard ${JSON.stringify(text)}: use i/n with 1 ≤ i ≤ n ≤ ${MAX_SHARDS} (shard i of n), e.g. 2/4`);
  }
  return { index, count };
}

/** How many shards a map over `units` units uses: one unit each up to MAX_SHARDS, else groups (`wanted` to choose fewer). */
export function mapShardCount(units: number, wanted?: number): number {
  if (wanted !== undefined && (!Number.isInteger(wanted) || wanted < 1 || wanted > MAX_SHARDS)) {
    throw new UserError(`invalid --shards ${wanted}: use a whole number from 1 to ${MAX_SHARDS}`);
  }
  return Math.max(1, Math.min(units, wanted ?? MAX_SHARDS));
}

export const shardText = (shard: Shard) => `${shard.index}/${shard.count}`;

/** `shard-0002-of-0004`: names a shard's fragment so a listing sorts by shard. */
export const shardLabel = (shard: Shard) => `shard-${String(shard.index).padStart(4, '0')}-of-${String(shard.count).padStart(4, '0')}`;

/**
 * Largest units first, each to the shard with the fewest bytes so far (ties:
 * the lowest shard). Units are first put in a total order by `id`, so the
 * result never depends on the order they were listed in. With n ≥ units,
 * shard k gets exactly the k-th largest unit (what a map over units needs).
 */
export function assignShards<T>(units: T[], count: number, bytes: (unit: T) => number, id: (unit: T) => string): T[][] {
  const ordered = [...units].sort((a, b) => bytes(b) - bytes(a) || (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0));
  const shards: T[][] = Array.from({ length: count }, () => []);
  const load = new Array<number>(count).fill(0);
  for (const unit of ordered) {
    let least = 0;
    for (let s = 1; s < count; s++) if (load[s]! < load[least]!) least = s;
    shards[least]!.push(unit);
    load[least]! += bytes(unit);
  }
  return shards;
}

/** The units of `shard`, in the order the shard should do them (largest first). */
export function unitsOfShard<T>(units: T[], shard: Shard | undefined, bytes: (unit: T) => number, id: (unit: T) => string): T[] {
  if (!shard) return units;
  return assignShards(units, shard.count, bytes, id)[shard.index - 1]!;
}

/** The keys of the shard fragments stored under `prefix` (`<stage>/shards`), in shard order. */
export async function fragmentKeys(run: Storage, prefix: string): Promise<string[]> {
  return (await run.list(prefix)).map((o) => o.key).filter((k) => k.endsWith('.json')).sort();
}

/**
 * Which shard did each unit, from the shards' fragments (in shard order): the
 * first claim of a unit wins, and every later one is listed in `doubled` as
 * `<label> (shards a and b)`. `id` returns undefined for an entry that is not
 * of the current run (an earlier snapshot, mapper or options): it is ignored.
 */
export function claimsOf<T>(
  fragments: { shard: string; entries: T[] }[], id: (entry: T) => string | undefined, label: (entry: T) => string,
): { first: Map<string, { shard: string; entry: T }>; doubled: string[] } {
  const first = new Map<string, { shard: string; entry: T }>();
  const doubled: string[] = [];
  for (const { shard, entries } of fragments) {
    for (const entry of entries) {
      const key = id(entry);
      if (key === undefined) continue;
      const before = first.get(key);
      if (before) doubled.push(`${label(entry)} (shards ${before.shard} and ${shard})`);
      else first.set(key, { shard, entry });
    }
  }
  return { first, doubled };
}
