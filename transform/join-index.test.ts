import test from 'ava';
import { JoinIndex, JoinIndexBuilder, openJoinIndex } from './join-index.ts';

function build(pairs: [string | null, string | null][], describe = 'test', runBytes?: number): JoinIndex {
  const builder = new JoinIndexBuilder(describe, runBytes);
  try {
    for (const [key, value] of pairs) builder.add(key, value);
    return openJoinIndex(builder.build());
  } catch (err) {
    builder.discard();
    throw err;
  }
}

/** The same pairs built twice: opened whole (through its hash table) and read block by block. */
function wholeAndBlocks(describe: string, pairs: [string | null, string | null][]): [JoinIndex, JoinIndex] {
  const file = () => {
    const builder = new JoinIndexBuilder(describe);
    for (const [key, value] of pairs) builder.add(key, value);
    return builder.build();
  };
  return [openJoinIndex(file()), openJoinIndex(file(), 0)];
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
  t.is(index.get('0'), undefined, 'before the first key');
  index.close();
});

test('the data can be rebuilt from its shared buffers and descriptor (as a worker does)', (t) => {
  const index = build(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i % 7 ? `v${i}` : null] as [string, string | null]));
  const copy = new JoinIndex(structuredClone(index.data));
  for (let i = 0; i < 1000; i++) t.is(copy.get(`k${i}`), i % 7 ? `v${i}` : null);
  t.true(index.data.firstKeys instanceof SharedArrayBuffer);
  index.close();
});

test('a match column that is not unique is refused, within a run and across runs', (t) => {
  t.throws(() => build([['a', '1'], ['a', '2']], 'join user_id on user_devices.id'), { message: /join user_id on user_devices\.id: the match column is not unique/ });
  const keys = Array.from({ length: 300 }, (_, i) => [`k${(i * 7919) % 300}`, 'v'] as [string, string]);
  t.throws(() => build([...keys, ['k17', 'again']], 'runs', 256), { message: /runs: the match column is not unique/ });
});

test('an empty index finds nothing', (t) => {
  const index = build([], 'empty');
  t.false(index.has('a'));
  index.close();
});

test('NULL keys are left out; sorted and shuffled input, in one run or many, give the same lookups', (t) => {
  const rows = Array.from({ length: 5000 }, (_, i) => [`id-${String(i).padStart(5, '0')}`, i % 11 ? `value ${i} ${'x'.repeat(i % 300)}` : null] as [string, string | null]);
  const shuffled = rows.map((_, i) => rows[(i * 7919) % rows.length]!);
  t.notDeepEqual(shuffled, rows);
  for (const [input, runBytes] of [[rows, undefined], [rows, 1000], [shuffled, undefined], [shuffled, 1000]] as const) {
    const index = build([...input, [null, 'x']], 'test', runBytes);
    for (const [key, value] of rows) t.is(index.get(key), value, key);
    t.is(index.get('id-'), undefined);
    t.is(index.get('id-99999'), undefined);
    t.is(index.get('id-00042x'), undefined);
    index.close();
  }
});

test('an index held whole in memory and one read block by block answer alike', (t) => {
  // The whole file is looked up through a hash table: keys of every length, the empty one and multibyte ones among them.
  const pairs = [
    ...Array.from({ length: 3000 }, (_, i) => [`k${(i * 7919) % 3000}`, i % 5 ? `v${i}é` : null] as [string, string | null]),
    ['', 'empty'], ['x'.repeat(500), 'long'], ['é'.repeat(200), 'accents'], ['😀', null],
  ] as [string, string | null][];
  const [whole, blocks] = wholeAndBlocks('whole', pairs);
  t.truthy(whole.data.whole);
  t.is(blocks.data.whole, undefined);
  // Through a worker's copy too: the whole file is shared, not cloned.
  const copy = new JoinIndex(structuredClone(whole.data));
  for (const key of [...pairs.map(([k]) => k), 'k', 'zz', 'k2999x', 'x'.repeat(499), 'é'.repeat(201), '😀😀']) {
    t.is(whole.get(key), blocks.get(key), key);
    t.is(copy.get(key), blocks.get(key), key);
  }
  t.is(whole.get('k3'), pairs.find(([k]) => k === 'k3')![1]);
  t.is(whole.get(''), 'empty');
  t.is(whole.get('é'.repeat(200)), 'accents');
  t.true(whole.has('😀'));
  whole.close();
  blocks.close();
});

test('an index is held whole only when the file and its hash table together fit the budget', (t) => {
  // Short keys and NULL values: ~14 bytes a file entry, 16–32 a hash table slot pair.
  // The table was left out of the budget: a 63 MiB file of 6-byte keys held 128 MiB
  // of table beside it, three times the 64 MiB the README promises.
  const file = () => {
    const builder = new JoinIndexBuilder('small entries');
    for (let i = 0; i < 20_000; i++) builder.add(String(i), i % 3 ? null : `v${i}`);
    return builder.build();
  };
  const held = (index: JoinIndex) => (index.data.whole?.byteLength ?? 0) + (index.data.table?.byteLength ?? 0);
  for (const extra of [0, 100_000, 1024 * 1024]) {
    const built = file();
    const budget = new Float64Array(built.blockAt).at(-1)! + extra;
    const index = openJoinIndex(built, budget);
    t.true(held(index) <= budget, `${held(index)} bytes held for a budget of ${budget}`);
    for (const i of [0, 1, 3, 19_999]) t.is(index.get(String(i)), i % 3 ? null : `v${i}`);
    t.is(index.get('20000'), undefined);
    if (extra === 1024 * 1024) t.truthy(index.data.table, 'room for both: held whole');
    index.close();
  }
  // At the budget exactly, held whole; a byte less, read by blocks (20,000 entries: 65,536 slots of 8 bytes).
  for (const extra of [65_536 * 8, 65_536 * 8 - 1]) {
    const built = file();
    const index = openJoinIndex(built, new Float64Array(built.blockAt).at(-1)! + extra);
    t.is(index.data.whole !== undefined, extra === 65_536 * 8);
    t.is(index.get('19999'), null);
    index.close();
  }
});

test('a whole index tells apart keys of one FNV-1a hash, a key and its prefixes, and keys far longer than a block', (t) => {
  // 7yzlaa and e6apaa hash alike (32 bits), and so do any two with one suffix added; 16cpaa shares gwzlaa's hash.
  const fnv = (key: string) => [...Buffer.from(key)].reduce((hash, byte) => Math.imul(hash ^ byte, 0x01000193), 0x811c9dc5) >>> 0;
  t.is(fnv('7yzlaa'), fnv('e6apaa'));
  t.is(fnv('7yzlaax'), fnv('e6apaax'));
  t.is(fnv('gwzlaa'), fnv('16cpaa'));
  const present: [string, string | null][] = [
    ['7yzlaa', 'a'], ['e6apaa', 'b'], ['7yzlaax', null], ['e6apaax', 'd'], ['gwzlaa', 'e'],
    ['k', 'k'], ['k1', 'k1'], ['k1 ', 'k1 '], ['', 'empty'],
    ['K'.repeat(70_000), 'long'], [`${'K'.repeat(69_999)}k`, 'long k'], ['é'.repeat(40_000), 'é'],
  ];
  const absent = ['16cpaa', '7yzlaay', 'k1  ', 'k2', 'K'.repeat(70_001), 'K'.repeat(69_999), 'é'.repeat(39_999), 'e'];
  const [whole, blocks] = wholeAndBlocks('collisions', present);
  t.truthy(whole.data.table);
  for (const index of [whole, blocks]) {
    for (const [key, value] of present) t.is(index.get(key), value, key.slice(0, 12));
    for (const key of absent) t.is(index.get(key), undefined, key.slice(0, 12));
  }
  whole.close();
  blocks.close();
});
