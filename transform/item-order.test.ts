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
});

test('lines spilled to a temp file come back in the same order as lines held in memory', (t) => {
  const lines = Array.from({ length: 5000 }, (_, i) => `{"Item":{"PK":{"S":"USER#${i}"},"pad":{"S":"${'é'.repeat(i % 300)}"}}}\n`);
  const order = lineOrder('t', 3, lines.length);
  const write = (spillBytes: number) => {
    const held = new HeldLines(spillBytes);
    for (const line of lines) held.add(line);
    try {
      return { spilled: held.spilled, bytes: held.bytes, text: Buffer.concat([...held.inOrder(order)]).toString('utf8') };
    } finally {
      held.close();
    }
  };
  const memory = write(Infinity);
  const disk = write(64 * 1024);
  t.false(memory.spilled);
  t.true(disk.spilled);
  t.is(memory.text, [...order].map((i) => lines[i]).join(''));
  t.is(disk.text, memory.text);
  t.is(disk.bytes, Buffer.byteLength(memory.text));
});
