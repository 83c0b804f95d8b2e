import test from 'ava';
import { Readable } from 'node:stream';
import { KEY_RECORD_BYTES, KeyCollector, findDuplicates, type Duplicate } from './duplicate-keys.ts';

function unit(keys: [string, string][], order?: Uint32Array): Readable {
  const collector = new KeyCollector();
  keys.forEach(([pk, sk], i) => collector.add(pk, sk, i + 1, i));
  if (order) collector.renumberLines(order);
  const sorted = collector.sorted();
  // Odd chunk sizes: records straddle chunk boundaries.
  const chunks: Buffer[] = [];
  for (let i = 0; i < sorted.length; i += 7) chunks.push(sorted.subarray(i, i + 7));
  return Readable.from(chunks);
}

async function all(sources: Readable[]): Promise<Duplicate[]> {
  const out: Duplicate[] = [];
  for await (const d of findDuplicates(sources)) out.push(d);
  return out;
}

test('no duplicates across distinct keys', async (t) => {
  t.deepEqual(await all([unit([['A', '1'], ['A', '2']]), unit([['B', '1']]), unit([])]), []);
});

test('a key repeated across units is reported against its first occurrence', async (t) => {
  const found = await all([unit([['A', '1'], ['A', '2']]), unit([['B', '1'], ['A', '2']])]);
  t.deepEqual(found, [{ first: { source: 0, row: 2, line: 1 }, duplicate: { source: 1, row: 2, line: 1 } }]);
});

test('a key repeated inside one unit and three times overall', async (t) => {
  const found = await all([unit([['X', 'y'], ['X', 'y']]), unit([['X', 'y']])]);
  t.is(found.length, 2);
  t.true(found.every((d) => d.first.source === 0 && d.first.row === 1));
});

test('PK/SK boundaries matter: (AB, C) differs from (A, BC)', async (t) => {
  t.deepEqual(await all([unit([['AB', 'C'], ['A', 'BC']])]), []);
});

test('many units and keys', async (t) => {
  const units = Array.from({ length: 20 }, (_, u) => unit(Array.from({ length: 500 }, (_, i) => [`P${(i * 20 + u) % 7000}`, 'S'] as [string, string])));
  t.is((await all(units)).length, 20 * 500 - 7000);
});

test('a duplicate names the line its item was written on, once the file is in another order', async (t) => {
  // Lines 0, 1, 2 hold arrival items 1, 2, 0: the repeated A (item 2) is on line 1.
  const found = await all([unit([['A', '1']]), unit([['B', '1'], ['C', '1'], ['A', '1']], new Uint32Array([1, 2, 0]))]);
  t.deepEqual(found, [{ first: { source: 0, row: 1, line: 0 }, duplicate: { source: 1, row: 3, line: 1 } }]);
});

test('records equal in all but the last byte of the hash are distinct; equal in all 16 are duplicates, whatever row', async (t) => {
  const record = (last: number, row: number) => {
    const r = Buffer.alloc(KEY_RECORD_BYTES, 0xff);
    r[15] = last;
    r.writeUInt32BE(row, 16);
    r.writeUInt32BE(row - 1, 20);
    return r;
  };
  const found = await all([Readable.from([Buffer.concat([record(1, 1), record(2, 2)])]), Readable.from([Buffer.concat([record(2, 7)])])]);
  t.deepEqual(found, [{ first: { source: 0, row: 2, line: 1 }, duplicate: { source: 1, row: 7, line: 6 } }]);
  await t.throwsAsync(all([Readable.from([record(1, 1).subarray(0, 20)])]), { message: 'keys file 0 is truncated' });
});
