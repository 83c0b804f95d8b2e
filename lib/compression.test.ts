import test from 'ava';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { COMPRESSIONS, checkCompression, compressionOf, compressor, decompress, importCompressionType } from './compression.ts';

const text = Array.from({ length: 20_000 }, (_, i) => `{"Item":{"PK":{"S":"USER#${i}"},"data":{"M":{"é":{"S":"ü\\n"}}}}}\n`).join('');

async function compress(compression: (typeof COMPRESSIONS)[number]): Promise<Buffer> {
  const out: Buffer[] = [];
  const stream = compressor(compression, 1);
  await pipeline(Readable.from([Buffer.from(text)]), stream, async (source: AsyncIterable<Buffer>) => { for await (const c of source) out.push(c); });
  return Buffer.concat(out);
}

for (const compression of COMPRESSIONS) {
  test(`${compression}: what is compressed decompresses to the same bytes, by the file's suffix`, async (t) => {
    const stored = await compress(compression);
    const key = `part-00000.json${{ gzip: '.gz', zstd: '.zst', none: '' }[compression]}`;
    t.is(compressionOf(key), compression);
    if (compression !== 'none') t.true(stored.length < text.length / 5, 'compressed');
    const back = Buffer.concat(await decompress(Readable.from([stored]), key).toArray());
    t.is(back.toString('utf8'), text);
  });
}

test('zstd writes the zstd frame format (magic number), and a truncated file is an error naming zstd', async (t) => {
  const stored = await compress('zstd');
  t.is(stored.readUInt32LE(0), 0xfd2fb528);
  const err = await t.throwsAsync(decompress(Readable.from([stored.subarray(0, stored.length - 10)]), 'x.json.zst').toArray());
  t.regex(err!.message, /^zstd: /);
});

test('compression names and ImportTable types', (t) => {
  t.is(checkCompression(undefined), 'gzip');
  t.is(checkCompression('ZSTD'), 'zstd');
  t.throws(() => checkCompression('lz4'), { message: /unknown compression "lz4": use gzip, zstd, none/ });
  t.deepEqual(COMPRESSIONS.map(importCompressionType), ['GZIP', 'ZSTD', 'NONE']);
});
