import test from 'ava';
import { JoinIndex, JoinIndexBuilder } from './join-index.ts';

function build(pairs: [string | null, string | null][], describe = 'test'): JoinIndex {
  const builder = new JoinIndexBuilder();
  for (const [key, value] of pairs) builder.add(key, value);
  return builder.build(describe);
}

test('finds every key, tells a NULL value from a missing row', (t) => {
  const pairs: [string, string | null][] = [['b', 'B'], ['a', null], ['é', 'accent'], ['😀', ''], ['c', 'C']];
  const index = build(pairs);
  for (const [key, value] of pairs) {
    t.true(index.has(key), key);
    t.is(index.get(key), value, key);
  }
  t.false(index.has('zz'));
  t.is(index.get('zz'), undefined);
  t.is(index.get(''), undefined);
});

test('the data can be rebuilt from its shared buffers (as a worker does)', (t) => {
  const index = build(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i % 7 ? `v${i}` : null] as [string, string | null]));
  const copy = new JoinIndex(structuredClone(index.data));
  for (let i = 0; i < 1000; i++) t.is(copy.get(`k${i}`), i % 7 ? `v${i}` : null);
  t.true(index.data.keyBytes instanceof SharedArrayBuffer);
});

test('a match column that is not unique is refused', (t) => {
  t.throws(() => build([['a', '1'], ['a', '2']], 'join user_id on user_devices.id'), { message: /join user_id on user_devices\.id: the match column is not unique/ });
});

test('an empty index finds nothing', (t) => {
  const index = build([], 'empty');
  t.false(index.has('a'));
});

test('NULL keys are left out; sorted input (the usual case) and shuffled input give the same index', (t) => {
  const rows = Array.from({ length: 500 }, (_, i) => [`id-${String(i).padStart(4, '0')}`, `v${i}`] as [string, string]);
  const shuffled = [...rows].sort((a, b) => (a[1] < b[1] ? -1 : 1));
  const a = build([...rows, [null, 'x']]);
  const b = build(shuffled);
  t.deepEqual(Buffer.from(a.data.keyBytes), Buffer.from(b.data.keyBytes));
  t.is(a.data.count, 500);
  t.is(b.get('id-0042'), 'v42');
});
