import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { COMPRESSIONS, decompress } from '../lib/compression.ts';
import { openStorage, type PutResult, type Storage } from '../lib/storage.ts';
import { writeItemFile } from './item-file.ts';
import { HeldLines, lineOrder } from './item-order.ts';

// About 5 MB of lines, so the file is written in several chunks and their buffers are reused.
const lines = Array.from({ length: 12_000 }, (_, i) => `{"Item":{"PK":{"S":"USER#${i}"},"pad":{"S":"${'é'.repeat(i % 400)}"}}}\n`);
const expected = [...lineOrder('t', 2, lines.length)].map((i) => lines[i]).join('');

function held(): HeldLines {
  const held = new HeldLines('t', 2, 256 * 1024);
  for (const line of lines) held.add(line);
  return held;
}

for (const compression of COMPRESSIONS) {
  test(`${compression}: the item file holds the lines in their order, whole, whatever pace the store reads at`, async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'item-file-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const key = `items/part-00002.json${{ gzip: '.gz', zstd: '.zst', none: '' }[compression]}`;
    const local = held();
    const [stored, jsonBytes] = await writeItemFile(openStorage(dir), key, local, compression, 1);
    local.close();
    const bytes = await readFile(path.join(dir, key));
    t.is(stored.bytes, bytes.length);
    t.is(stored.sha256, createHash('sha256').update(bytes).digest('hex'));
    t.is(jsonBytes, Buffer.byteLength(expected));
    t.is(Buffer.concat(await decompress(Readable.from([bytes]), key).toArray()).toString('utf8'), expected);

    // A store that reads slowly, keeping every chunk it was given: a buffer reused too soon would change them.
    const kept: Buffer[] = [];
    const slow = {
      async put(_key: string, body: Readable): Promise<PutResult> {
        for await (const chunk of body) {
          kept.push(chunk as Buffer);
          await sleep(2);
        }
        return { bytes: 0, sha256: '' } as PutResult;
      },
    } as unknown as Storage;
    const again = held();
    await writeItemFile(slow, key, again, compression, 1);
    again.close();
    t.is(Buffer.concat(await decompress(Readable.from(kept), key).toArray()).toString('utf8'), expected);
  });
}

test('a store that fails gives its own error, not the stream echo of it', async (t) => {
  const failing = { put: async (_key: string, body: Readable) => { body.resume(); throw new Error('disk full (items/x.json.zst)'); } } as unknown as Storage;
  const local = held();
  await t.throwsAsync(writeItemFile(failing, 'items/x.json.zst', local, 'zstd', 1), { message: 'disk full (items/x.json.zst)' });
  local.close();
});
