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

test('a slow consumer holds the source back: no more than about two joined chunks are in flight', async (t) => {
  let produced = 0;
  let consumed = 0;
  let most = 0;
  const source = new Readable({
    read() {
      produced += 8192;
      most = Math.max(most, produced - consumed);
      this.push(produced > 8_000_000 ? null : Buffer.alloc(8192, 1));
    },
  });
  const slow = new Writable({ write: (chunk: Buffer, _e, done) => { consumed += chunk.length; setImmediate(done); } });
  await pipeline(source, new Coalesce(), slow);
  t.is(consumed, produced - 8192);
  t.true(most <= 2 * 256 * 1024 + 64 * 1024, String(most));
});
