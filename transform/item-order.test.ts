import test from 'ava';
import { HeldLines, lineOrder } from './item-order.ts';

test('the line order is a permutation, the same for the same table and part, another for another', (t) => {
  const order = lineOrder('users', 0, 10_000);
  t.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: 10_000 }, (_, i) => i));
  t.deepEqual(lineOrder('users', 0, 10_000), order);
  t.notDeepEqual(lineOrder('users', 1, 10_000), order);
  t.notDeepEqual(lineOrder('user_sessions', 0, 10_000), order);
  // Not key order: few neighbours in the input stay neighbours in the file.
  const kept = order.filter((index, line) => line > 0 && index === order[line - 1]! + 1).length;
  t.true(kept < 10, `${kept} input neighbours kept`);
  // Nor blocks of it: the first tenth of the file draws from the whole input, not from one stretch.
  const head = [...order.subarray(0, 1000)];
  t.true(Math.min(...head) < 500 && Math.max(...head) > 9500);
});

test('every position is about equally likely for every line (the two steps still shuffle uniformly)', (t) => {
  // Line 0's position over many seeds, in 10 bins: each bin near a tenth.
  const bins = new Array(10).fill(0);
  const n = 1000;
  for (let part = 0; part < 2000; part++) bins[Math.floor((lineOrder('t', part, n).indexOf(0) / n) * 10)]++;
  for (const count of bins) t.true(count > 140 && count < 260, `bins ${bins.join(' ')}`);
});

const linesOf = (n: number) => Array.from({ length: n }, (_, i) => `{"Item":{"PK":{"S":"USER#${i}"},"pad":{"S":"${'é'.repeat(i % 300)}"}}}\n`);

function write(lines: string[], spillBytes: number, part = 3) {
  const held = new HeldLines('t', part, spillBytes);
  for (const line of lines) held.add(line);
  try {
    return { spilled: held.spilled, bytes: held.bytes, count: held.count, text: Buffer.concat([...held.inOrder()]).toString('utf8') };
  } finally {
    held.close();
  }
}

test('held lines come out in lineOrder, from memory and spilled to a temp file alike', (t) => {
  const lines = linesOf(5000);
  const order = lineOrder('t', 3, lines.length);
  const memory = write(lines, Infinity);
  const disk = write(lines, 64 * 1024);
  t.false(memory.spilled);
  t.true(disk.spilled);
  t.is(memory.count, lines.length);
  t.is(memory.text, [...order].map((i) => lines[i]).join(''));
  t.is(disk.text, memory.text);
  t.is(disk.bytes, Buffer.byteLength(memory.text));
  t.is(memory.bytes, disk.bytes);
});

test('a spill at the first line, at the last, and of parts with no line or one', (t) => {
  const lines = linesOf(300);
  const expected = write(lines, Infinity).text;
  t.is(write(lines, 0).text, expected);
  const total = Buffer.byteLength(lines.join(''));
  const lastLine = Buffer.byteLength(lines.at(-1)!);
  t.true(write(lines, total - lastLine).spilled);
  t.is(write(lines, total - lastLine).text, expected);
  t.is(write([], 0).text, '');
  t.is(write(lines.slice(0, 1), 0).text, lines[0]);
});
