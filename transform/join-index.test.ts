import test from 'ava';
import { JoinIndex } from './join-index.ts';

test('finds every key, tells a NULL value from a missing row', (t) => {
  const pairs: [string, string | null][] = [['b', 'B'], ['a', null], ['é', 'accent'], ['😀', ''], ['c', 'C']];
  const index = JoinIndex.build(pairs, 'test');
  for (const [key, value] of pairs) {
    t.true(index.has(key), key);
    t.is(index.get(key), value, key);
  }
  t.false(index.has('zz'));
  t.is(index.get('zz'), undefined);
  t.is(index.get(''), undefined);
});

test('the data can be rebuilt from its shared buffers (as a worker does)', (t) => {
  const index = JoinIndex.build(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i % 7 ? `v${i}` : null] as [string, string | null]), 'test');
  const copy = new JoinIndex(structuredClone(index.data));
  for (let i = 0; i < 1000; i++) t.is(copy.get(`k${i}`), i % 7 ? `v${i}` : null);
  t.true(index.data.keyBytes instanceof SharedArrayBuffer);
});

test('a match column that is not unique is refused', (t) => {
  t.throws(() => JoinIndex.build([['a', '1'], ['a', '2']], 'join user_id on user_devices.id'), { message: /join user_id on user_devices\.id: the match column is not unique/ });
});

test('an empty index finds nothing', (t) => {
  const index = JoinIndex.build([], 'empty');
  t.false(index.has('a'));
});
