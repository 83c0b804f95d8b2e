// COMPRESSION=zstd|none for extract's CSV parts: the same COPY text as gzip's
// under another suffix (.csv.zst, .csv), and transform reads them into the
// very item files a gzip extract gives.
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runExtract } from '../extract/extract.ts';
import { decompress, type Compression } from '../lib/compression.ts';
import { readExtractManifest, type ExtractManifest } from '../lib/manifest.ts';
import { openStorage } from '../lib/storage.ts';
import { runTransform } from '../transform/runner.ts';
import { freshDatabase } from './stack.ts';

const quiet = () => {};

async function extractWith(url: string, compression: Compression): Promise<{ store: string; manifest: ExtractManifest }> {
  const store = await mkdtemp(path.join(os.tmpdir(), `pg2ddb-extract-${compression}-`));
  // Split so that tables have several parts, each compressed on its own.
  await runExtract({ databaseUrl: url, store, run: 'r', concurrency: 2, schemas: ['public'], gzipLevel: 1, compression, splitRows: 1500, log: quiet });
  return { store, manifest: (await readExtractManifest(openStorage(store).sub('r')))! };
}

/** sha256 of every item file transform writes (gzip), by key. */
async function itemFiles(store: string): Promise<Record<string, string>> {
  const manifest = await runTransform({ store, run: 'r', concurrency: 2, gzipLevel: 1, unmapped: 'fail', dropExpired: false, log: quiet });
  return Object.fromEntries(manifest.tables.flatMap((t) => t.parts.map((p) => [p.key, p.sha256])));
}

test('zstd and uncompressed extract parts hold the same COPY text as gzip parts, and transform makes the same item files from them', async (t) => {
  const url = await freshDatabase(t, { scale: 0.004 });
  const gzip = await extractWith(url, 'gzip');
  const parts = (m: ExtractManifest) => m.tables.flatMap((table) => table.parts);
  t.true(parts(gzip.manifest).length > gzip.manifest.tables.length, 'some table was split into several parts');
  t.true(parts(gzip.manifest).every((p) => p.key.endsWith('.csv.gz')));
  const gzipItems = await itemFiles(gzip.store);

  for (const [compression, suffix] of [['zstd', '.csv.zst'], ['none', '.csv']] as const) {
    const other = await extractWith(url, compression);
    t.is(other.manifest.options.compression, compression);
    const run = openStorage(other.store).sub('r');
    for (const [i, part] of parts(other.manifest).entries()) {
      const same = parts(gzip.manifest)[i]!;
      t.is(part.key, same.key.replace(/\.csv\.gz$/, suffix));
      t.is(part.raw_sha256, same.raw_sha256, `${part.key}: the same COPY text as gzip's`);
      t.is(part.rows, same.rows);
      const stored = Buffer.concat(await (await run.get(part.key)).toArray());
      t.is(stored.length, part.bytes);
      t.is(createHash('sha256').update(stored).digest('hex'), part.sha256);
      const text = Buffer.concat(await decompress(await run.get(part.key), part.key).toArray());
      t.is(createHash('sha256').update(text).digest('hex'), part.raw_sha256, `${part.key} decompresses to the COPY text`);
    }
    if (compression === 'zstd') t.true(parts(other.manifest).some((p) => p.bytes < p.raw_bytes / 2), 'zstd compresses');
    t.deepEqual(await itemFiles(other.store), gzipItems, `transform of ${compression} parts writes the same item files`);
  }
});
