import test from 'ava';
import { Readable } from 'node:stream';
import { textLines } from './lines.ts';

const collect = async (chunks: Buffer[]) => { const out: string[] = []; for await (const l of textLines(Readable.from(chunks))) out.push(l); return out; };

test('lines end at "\\n" only: U+2028, U+2029 and "\\r" inside a JSON line stay in it (node:readline splits there on Node 24)', async (t) => {
  const line = JSON.stringify({ S: 'a\u2028b\u2029c' }) + '\r';
  t.deepEqual(await collect([Buffer.from(`${line}\n{"x":1}\n`)]), [line, '{"x":1}']);
});

test('a character split across chunks is decoded whole; a last line without "\\n" is kept, an empty end is not a line', async (t) => {
  const bytes = Buffer.from('é😀\n\nlast');
  const chunks = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
  t.deepEqual(await collect(chunks), ['é😀', '', 'last']);
  t.deepEqual(await collect([Buffer.from('one\n')]), ['one']);
  t.deepEqual(await collect([]), []);
});
