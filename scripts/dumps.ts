// The committed fixture dumps: `fixtures/dumps/<table>.csv` is the uncompressed
// extract of the realistic fixture database and `schema.json` its tables' schemas;
// `fixtures/hostile/dumps/` the same of the hostile one (fixtures/hostile.ts).
// `make dumps` rewrites both; a test checks a fresh extract still equals them, byte for byte.
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { runExtract } from '../extract/extract.ts';
import type { FixtureKind } from '../fixtures/hostile.ts';
import { loadFixtureDatabase } from '../fixtures/load.ts';
import { readExtractManifest, type ExtractManifest, type TableEntry } from '../lib/manifest.ts';
import { openStorage } from '../lib/storage.ts';
import { createDatabase, dropDatabase } from './stack/postgres.ts';

export const DUMPS_DIR = fileURLToPath(new URL('../fixtures/dumps', import.meta.url));
export const HOSTILE_DUMPS_DIR = fileURLToPath(new URL('../fixtures/hostile/dumps', import.meta.url));
export const dumpsDir = (kind: FixtureKind): string => (kind === 'hostile' ? HOSTILE_DUMPS_DIR : DUMPS_DIR);

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

export async function committedDumps(kind: FixtureKind = 'realistic'): Promise<Map<string, Buffer>> {
  const dir = dumpsDir(kind);
  const dumps = new Map<string, Buffer>();
  for (const file of (await readdir(dir)).sort()) {
    if (file.endsWith('.csv') || file === SCHEMA_FILE) dumps.set(file, await readFile(path.join(dir, file)));
  }
  return dumps;
}

async function writeDumps(kind: FixtureKind, dumps: Map<string, Buffer>): Promise<void> {
  const dir = dumpsDir(kind);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const [file, content] of dumps) await writeFile(path.join(dir, file), content);
  process.stderr.write(`wrote ${dumps.size} ${kind} dumps to ${dir}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const url = process.env.DATABASE_URL;
  const adminUrl = process.env.PG_ADMIN_URL;
  if (!url || !adminUrl) throw new Error('DATABASE_URL or PG_ADMIN_URL is not set: run through `make dumps`');
  await writeDumps('realistic', await extractDumps(url));
  // The stack holds the realistic fixture; the hostile one gets a database of its own for the moment.
  const name = `dumps_hostile_${process.pid}`;
  const hostileUrl = await createDatabase(adminUrl, name);
  try {
    await loadFixtureDatabase(hostileUrl, { fixture: 'hostile' });
    await writeDumps('hostile', await extractDumps(hostileUrl));
  } finally {
    await dropDatabase(adminUrl, name);
  }
}
