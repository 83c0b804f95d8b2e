import test from 'ava';
import { createHash } from 'node:crypto';
import { HyperLogLog, KeyBudget, KeySpace, KeyTally, hashKey, keyLabel, keyWarnings } from './collections.ts';

test('a key is named by its entity prefix and a sha256 prefix, never by its value', (t) => {
  const key = hashKey('USER#b17e715f-f526-47f2-96e6-3be75903b357');
  t.is(key.prefix, 'USER');
  t.is(key.hash, createHash('sha256').update('USER#b17e715f-f526-47f2-96e6-3be75903b357').digest('hex'));
  t.regex(keyLabel(key), /^USER#…[0-9a-f]{12}$/);
  t.false(keyLabel(key).includes('b17e715f'));
  // Text before '#' that is not an entity tag could be a value (an email, a name): shown as '?'.
  t.is(hashKey('alice@example.com#1').prefix, '?');
  t.is(hashKey('plainvalue').prefix, '?');
  t.is(hashKey('AUDIT_TYPE#login#2025-01').prefix, 'AUDIT_TYPE');
});

test('counts are exact up to maxKeys distinct keys', (t) => {
  const tally = new KeyTally('bytes', 1000);
  for (let i = 0; i < 500; i++) for (let j = 0; j <= i % 5; j++) tally.add(hashKey(`USER#${i}`), 100 * (i === 7 ? 50 : 1));
  t.true(tally.exact);
  t.is(tally.distinct(), 500);
  const largest = tally.largest('USER')!;
  t.is(largest.label, keyLabel(hashKey('USER#7')));
  t.is(largest.items, 3);
  t.is(largest.bytes, 3 * 5000);
  t.is(largest.error, 0);
});

test('past maxKeys: the heaviest key is still found (Misra-Gries, within its bound) and distinct counts come from HyperLogLog', (t) => {
  const tally = new KeyTally('items', 1000);
  const n = 50_000;
  for (let i = 0; i < n; i++) {
    tally.add(hashKey(`JOB_STATUS#v${i}`), 10);
    if (i % 10 === 0) tally.add(hashKey('JOB_STATUS#hot'), 10);
  }
  t.false(tally.exact);
  const largest = tally.largest('JOB_STATUS')!;
  t.is(largest.label, keyLabel(hashKey('JOB_STATUS#hot')));
  const truth = n / 10;
  t.true(largest.items <= truth && largest.items + largest.error >= truth, `estimate ${largest.items} ± ${largest.error}, truth ${truth}`);
  const distinct = tally.distinct();
  t.true(Math.abs(distinct - (n + 1)) / (n + 1) < 0.03, `HLL ${distinct} vs ${n + 1}`);
});

test('HyperLogLog is close for small and large cardinalities', (t) => {
  for (const n of [10, 1000, 200_000]) {
    const hll = new HyperLogLog();
    for (let i = 0; i < n; i++) hll.add(createHash('sha256').update(String(i)).digest('hex'));
    const e = hll.estimate();
    t.true(Math.abs(e - n) / n < 0.03, `n=${n} estimate=${e}`);
  }
});

test('a status-like GSI key is flagged as low cardinality; a per-user key is not', (t) => {
  const space = new KeySpace('GSI1PK', 'items');
  const statuses = ['completed', 'completed', 'completed', 'failed', 'uploaded', 'processing'];
  for (let i = 0; i < 120; i++) space.add(hashKey(`JOB_STATUS#${statuses[i % statuses.length]}`), 500);
  for (let i = 0; i < 120; i++) space.add(hashKey(`USER_HASH#${i % 40}`), 500);
  const summary = space.summary();
  t.is(summary.distinct, 4 + 40);
  const warnings = keyWarnings(summary);
  t.is(warnings.length, 1);
  t.regex(warnings[0]!, /^GSI1PK JOB_STATUS#… is a low-cardinality key: 4 distinct values for 120 items, the largest \(JOB_STATUS#…[0-9a-f]{12}\) holds 50%/);
  t.false(warnings[0]!.includes('completed'));
});

test('a collection holding a large share of a big run is a hot partition warning', (t) => {
  const space = new KeySpace('PK', 'bytes');
  for (let i = 0; i < 2000; i++) space.add(hashKey(i < 400 ? 'SYSTEM#CONFIG' : `USER#${i}`), 1000);
  const warnings = keyWarnings(space.summary());
  t.is(warnings.length, 1);
  t.regex(warnings[0]!, /^PK SYSTEM#…[0-9a-f]{12} holds 20% of the 2000 items keyed by PK: a hot partition/);
});

test('key spaces sharing one budget hold at most its keys together: the pattern holding the most is the one made approximate', (t) => {
  const budget = new KeyBudget(1000);
  const pk = new KeySpace('PK', 'bytes', budget);
  const gsi = new KeySpace('GSI1PK', 'items', budget);
  for (let i = 0; i < 300; i++) pk.add(hashKey(`USER#${i}`), 100);
  for (let i = 0; i < 20_000; i++) gsi.add(hashKey(`JOB#${i}`), 100);
  t.true(budget.held <= 1000, `${budget.held} keys held`);
  t.true(pk.summary().exact, 'the small pattern stays exact');
  t.is(pk.summary().distinct, 300);
  const jobs = gsi.summary();
  t.false(jobs.exact);
  t.true(Math.abs(jobs.distinct - 20_000) / 20_000 < 0.03, `HLL ${jobs.distinct}`);
});
