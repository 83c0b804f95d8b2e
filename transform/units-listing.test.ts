// transform/units.json, the item list of a Step Functions map: every shard it
// names parses as --shard, and each lists exactly the units `transform --shard`
// then does, for any run size (past 10,000 units, groups of units).
import test from 'ava';
import { MAX_SHARDS, parseShard } from '../lib/shard.ts';
import type { Unit } from './units.ts';
import { shardUnits, unitsListing } from './shards.ts';

/** Just the fields the listing and the split read: table name, part index, part bytes. */
function units(count: number): Unit[] {
  return Array.from({ length: count }, (_, i) => ({
    mapping: { table: { name: `t${i % 7}` } }, index: i, part: { raw_bytes: 1_000 + ((i * 7919) % 5_000) },
  }) as unknown as Unit);
}

interface Entry { shard: string; bytes: number; units: { table: string; part: number; bytes: number }[] }

function check(t: import('ava').ExecutionContext, all: Unit[], listing: Entry[], shards: number): void {
  t.is(listing.length, shards);
  const seen = new Set<string>();
  for (const [k, entry] of listing.entries()) {
    t.deepEqual(parseShard(entry.shard), { index: k + 1, count: shards });
    if (entry.bytes !== entry.units.reduce((n, u) => n + u.bytes, 0)) t.fail(`${entry.shard}: bytes are not its units' sum`);
    for (const u of entry.units) seen.add(`${u.table}/${u.part}`);
  }
  t.is(seen.size, all.length, 'every unit in exactly one shard');
  t.is(listing.reduce((n, e) => n + e.units.length, 0), all.length);
  // What a child given the shard does (each computes the whole split: sampled, not all n).
  for (const k of [0, Math.floor(shards / 2), shards - 1]) {
    const mine = shardUnits(all, parseShard(listing[k]!.shard)).map((u) => `${u.mapping.table.name}/${u.index}`);
    t.deepEqual(listing[k]!.units.map((u) => `${u.table}/${u.part}`), mine, `transform --shard ${listing[k]!.shard} does the units listed`);
  }
}

test('up to 10,000 units: one shard per unit, which does it alone', (t) => {
  const all = units(240);
  const listing = JSON.parse(unitsListing(all)) as Entry[];
  check(t, all, listing, 240);
  t.true(listing.every((e) => e.units.length === 1));
});

test('past 10,000 units: 10,000 shards of balanced groups, each a valid --shard', (t) => {
  const all = units(12_345);
  const listing = JSON.parse(unitsListing(all)) as Entry[];
  check(t, all, listing, MAX_SHARDS);
  const sizes = listing.map((e) => e.units.length);
  t.is(Math.min(...sizes), 1);
  t.is(Math.max(...sizes), 2);
});

test('--shards n groups the units into n shards', (t) => {
  const all = units(100);
  check(t, all, JSON.parse(unitsListing(all, 16)) as Entry[], 16);
});
