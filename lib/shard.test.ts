import test from 'ava';
import { MAX_SHARDS, assignShards, claimsOf, mapShardCount, parseShard, shardLabel, unitsOfShard } from './shard.ts';

const units = [5, 1, 9, 3, 3, 7, 2, 8].map((bytes, i) => ({ id: `u${i}`, bytes }));
const bytes = (u: { bytes: number }) => u.bytes;
const id = (u: { id: string }) => u.id;

test('parseShard takes i/n with 1 ≤ i ≤ n and refuses the rest by name', (t) => {
  t.deepEqual(parseShard('2/4'), { index: 2, count: 4 });
  t.deepEqual(parseShard(' 1/1 '), { index: 1, count: 1 });
  for (const bad of ['0/4', '5/4', '1/0', '2', '1/2/3', '-1/2', 'a/b', '']) {
    t.throws(() => parseShard(bad), { message: /invalid --shard/ }, bad);
  }
  t.is(shardLabel({ index: 3, count: 12 }), 'shard-0003-of-0012');
});

test('every unit goes to exactly one shard, whatever n', (t) => {
  for (const n of [1, 2, 3, 4, 8, 20]) {
    const shards = assignShards(units, n, bytes, id);
    t.is(shards.length, n);
    t.deepEqual(shards.flat().map(id).sort(), units.map(id).sort(), `n=${n}`);
  }
});

test('the split balances bytes (largest first, to the least loaded shard)', (t) => {
  const loads = assignShards(units, 2, bytes, id).map((s) => s.reduce((n, u) => n + u.bytes, 0));
  t.deepEqual(loads, [19, 19]);
  const three = assignShards(units, 3, bytes, id).map((s) => s.reduce((n, u) => n + u.bytes, 0));
  t.true(Math.max(...three) - Math.min(...three) <= 2, `${three}`);
});

test('the split does not depend on the order units are listed in', (t) => {
  const shuffled = [...units].reverse();
  t.deepEqual(assignShards(shuffled, 3, bytes, id), assignShards(units, 3, bytes, id));
  t.deepEqual(unitsOfShard(shuffled, { index: 2, count: 3 }, bytes, id), unitsOfShard(units, { index: 2, count: 3 }, bytes, id));
});

test('with as many shards as units, shard k does exactly the k-th largest unit', (t) => {
  const shards = assignShards(units, units.length, bytes, id);
  t.deepEqual(shards.map((s) => s.map(bytes)), [[9], [8], [7], [5], [3], [3], [2], [1]]);
  t.deepEqual(unitsOfShard(units, undefined, bytes, id), units, 'no shard: every unit');
});

test('claimsOf keeps each unit\'s first shard, lists later claims, and ignores entries of another run', (t) => {
  const { first, doubled } = claimsOf([
    { shard: '1/2', entries: ['a', 'b', 'stale'] },
    { shard: '2/2', entries: ['c', 'b'] },
  ], (e) => (e === 'stale' ? undefined : e), (e) => `unit ${e}`);
  t.deepEqual([...first].map(([id, c]) => `${id}:${c.shard}`), ['a:1/2', 'b:1/2', 'c:2/2']);
  t.deepEqual(doubled, ['unit b (shards 1/2 and 2/2)']);
});

test('a map over units has one shard per unit up to MAX_SHARDS, then groups; --shards chooses fewer, within 1..MAX_SHARDS', (t) => {
  t.is(mapShardCount(240), 240);
  t.is(mapShardCount(0), 1);
  t.is(mapShardCount(12_000), MAX_SHARDS);
  t.is(mapShardCount(12_000, 16), 16);
  t.is(mapShardCount(5, 16), 5);
  for (const bad of [0, 10_001, 2.5]) t.throws(() => mapShardCount(100, bad), { message: /invalid --shards/ }, String(bad));
  t.notThrows(() => parseShard(`${MAX_SHARDS}/${MAX_SHARDS}`));
});
