import test from 'ava';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Coalesce } from './coalesce.ts';

/** The chunks as written downstream (toArray would read the byte stream's buffer as one). */
async function written(chunks: Buffer[], bytes: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), new Coalesce(bytes), new Writable({ write: (chunk, _e, done) => { out.push(chunk); done(); } }));
  return out;
}

test('small chunks come out joined, in order, the rest at the end; a large chunk passes as it is', async (t) => {
  const chunks = [...Array.from({ length: 10 }, (_, i) => Buffer.alloc(3, i)), Buffer.alloc(20, 10), Buffer.alloc(2, 11)];
  const out = await written(chunks, 8);
  t.deepEqual(out.map((c) => c.length), [9, 9, 9, 3 + 20, 2]);
  t.true(Buffer.concat(out).equals(Buffer.concat(chunks)));
  t.deepEqual(await written([], 8), []);
});
