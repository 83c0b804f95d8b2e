// The committed fixture dumps: `fixtures/dumps/<table>.csv` is the uncompressed
// extract of the fixture database and `schema.json` its tables' schemas. `make dumps` rewrites them; a test checks a
// fresh extract still equals them, byte for byte.
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { runExtract } from '../extract/extract.ts';
import { readExtractManifest, type ExtractManifest, type TableEntry } from '../lib/manifest.ts';
import { openStorage } from '../lib/storage.ts';

export const DUMPS_DIR = fileURLToPath(new URL('../fixtures/dumps/', import.meta.url));

/** What the golden tests need of the extract manifest besides the CSV: each table's schema. */
export interface DumpSchema {
  tables: Pick<TableEntry, 'name' | 'schema' | 'table' | 'columns' | 'primary_key' | 'order_by' | 'no_primary_key'>[];
}

export function dumpSchema(manifest: ExtractManifest): DumpSchema {
  return {
    tables: manifest.tables.map(({ name, schema, table, columns, primary_key, order_by, no_primary_key }) =>
      ({ name, schema, table, columns, primary_key, order_by, ...(no_primary_key ? { no_primary_key } : {}) })),
  };
}

export const SCHEMA_FILE = 'schema.json';

/** Extracts the database into a temp dir and returns each table's COPY text, and `schema.json`. */
export async function extractDumps(databaseUrl: string): Promise<Map<string, Buffer>> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-dumps-'));
  try {
    await runExtract({ databaseUrl, store: dir, run: 'dumps', concurrency: 4, schemas: ['public'], gzipLevel: 1, log: () => {} });
    const run = openStorage(dir).sub('dumps');
    const manifest = (await readExtractManifest(run))!;
    const dumps = new Map<string, Buffer>();
    for (const table of manifest.tables) {
      const parts = await Promise.all(table.parts.map((p) => readFile(path.join(dir, 'dumps', p.key))));
      dumps.set(`${table.name}.csv`, Buffer.concat(parts.map((p) => gunzipSync(p))));
    }
    dumps.set(SCHEMA_FILE, Buffer.from(`${JSON.stringify(dumpSchema(manifest), null, 2)}\n`));
    return dumps;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function committedDumps(): Promise<Map<string, Buffer>> {
  const dumps = new Map<string, Buffer>();
  for (const file of (await readdir(DUMPS_DIR)).sort()) {
    if (file.endsWith('.csv') || file === SCHEMA_FILE) dumps.set(file, await readFile(path.join(DUMPS_DIR, file)));
  }
  return dumps;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run through `make dumps`');
  const dumps = await extractDumps(url);
  await rm(DUMPS_DIR, { recursive: true, force: true });
  await mkdir(DUMPS_DIR, { recursive: true });
  for (const [file, content] of dumps) await writeFile(path.join(DUMPS_DIR, file), content);
  process.stderr.write(`wrote ${dumps.size} dumps to ${DUMPS_DIR}\n`);
}
