// Golden outputs: the transform of the committed fixture dumps.
// `fixtures/golden/<table>.jsonl` holds each table's items (uncompressed, one
// per line, in (PK, SK) order), `<table>.rejects.jsonl` its rejects when there are any, and
// `summary.json` the per-table counts; `fixtures/hostile/golden/` the same for
// the hostile fixture, where every reject reason is. `make golden` rewrites
// both; a test fails on any difference. Reviewers read the diff. With MODEL=dir
// (a model of one's own) the realistic fixture's golden files are the model's,
// in `<dir>/golden/`, and the hostile fixture (Serenya's reject reasons) is left out.
import { readFileSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { EXTRACT_FORMAT, manifestText, type ExtractManifest, type TableEntry } from '../lib/manifest.ts';
import { sha256Hex } from '../lib/meter.ts';
import { EXTRACT_MANIFEST_KEY, extractPartKey, rejectsFileKey } from '../lib/run-layout.ts';
import { openStorage } from '../lib/storage.ts';
import { CsvRecords } from '../lib/csv-records.ts';
import { modelDir } from '../model/registry.ts';
import { runTransform } from '../transform/runner.ts';
import type { FixtureKind } from '../fixtures/hostile.ts';
import { SCHEMA_FILE, dumpsDir, type DumpSchema } from './dumps.ts';

export const GOLDEN_DIR = fileURLToPath(new URL('../fixtures/golden', import.meta.url));
export const HOSTILE_GOLDEN_DIR = fileURLToPath(new URL('../fixtures/hostile/golden', import.meta.url));
/** `model`: a model of one's own (absolute entity directory), whose golden files live beside its entities. */
export const goldenDir = (kind: FixtureKind, model?: string): string => (model ? path.join(model, 'golden/') : kind === 'hostile' ? HOSTILE_GOLDEN_DIR : GOLDEN_DIR);
/** The fixture's "now": fixed, so golden items never depend on when they were made. */
export const FIXTURE_AS_OF = '2026-01-01T00:00:00.000000Z';

/** The data rows of a COPY CSV file (its records but the header). */
export function countRows(csv: Buffer): number {
  let records = 0;
  const parser = new CsvRecords();
  parser.push(csv, () => records++);
  parser.end(() => records++);
  return records - 1;
}

/** Writes the dumps as an extract run (as extract would have) under `store/run`. */
export async function writeDumpRun(store: string, run: string, kind: FixtureKind = 'realistic'): Promise<ExtractManifest> {
  const dir = dumpsDir(kind);
  const schema = JSON.parse(await readFile(path.join(dir, SCHEMA_FILE), 'utf8')) as DumpSchema;
  const storage = openStorage(store).sub(run);
  const tables: TableEntry[] = [];
  for (const table of schema.tables) {
    const csv = await readFile(path.join(dir, `${table.name}.csv`));
    const gz = gzipSync(csv, { level: 1 });
    const key = extractPartKey(table.name, 0);
    await storage.put(key, gz);
    const rows = countRows(csv);
    tables.push({
      ...table, as_of: FIXTURE_AS_OF, snapshot_id: 'fixture', rows, raw_bytes: csv.length, bytes: gz.length,
      parts: [{ key, rows, raw_bytes: csv.length, raw_sha256: sha256Hex(csv), bytes: gz.length, sha256: sha256Hex(gz) }],
    });
  }
  const manifest: ExtractManifest = {
    format: EXTRACT_FORMAT, run_id: run, as_of: FIXTURE_AS_OF, snapshot_id: 'fixture', consistent: true,
    server: { version: 'fixture', version_num: 0, encoding: 'UTF8', collation: 'C' }, settings: {},
    options: { format: 'csv', compression: 'gzip', gzip_level: 1, schemas: ['public'] },
    tables,
  };
  await storage.put(EXTRACT_MANIFEST_KEY, manifestText(manifest));
  return manifest;
}

/**
 * An item file's lines sorted by (PK, SK) in UTF-8 byte order, as DynamoDB
 * orders keys: item files are in a seeded shuffled order (transform/item-order.ts),
 * and a golden file in key order reads like the table and changes only where items do.
 * The whole line breaks a tie (the hostile fixture has items sharing a key).
 */
export function inKeyOrder(items: string): string {
  const lines = items.split('\n').filter(Boolean).map((line) => {
    const { PK, SK } = (JSON.parse(line) as { Item: Record<string, { S?: string }> }).Item;
    return { line, key: Buffer.from(`${PK?.S ?? ''}\0${SK?.S ?? ''}\0${line}`) };
  });
  return lines.sort((a, b) => Buffer.compare(a.key, b.key)).map(({ line }) => `${line}\n`).join('');
}

/** The golden files, computed afresh from the dumps: file name → content. */
export async function computeGolden(kind: FixtureKind = 'realistic', model?: string): Promise<Map<string, string>> {
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-golden-'));
  try {
    await writeDumpRun(store, 'golden', kind);
    const manifest = await runTransform({ store, run: 'golden', concurrency: 2, gzipLevel: 1, unmapped: 'fail', dropExpired: false, ...(model ? { entities: model } : {}), log: () => {} });
    const out = new Map<string, string>();
    for (const table of manifest.tables) {
      const items = table.parts.map((p) => gunzipSync(readFileSync(path.join(store, 'golden', p.key))).toString('utf8')).join('');
      out.set(`${table.name}.jsonl`, inKeyOrder(items));
      const rejects = await readFile(path.join(store, 'golden', rejectsFileKey(table.name)), 'utf8');
      if (rejects) out.set(`${table.name}.rejects.jsonl`, rejects);
    }
    const summary = {
      ready_for_load: manifest.ready_for_load,
      problems: manifest.problems,
      duplicates: manifest.duplicates,
      tables: manifest.tables.map((t) => ({ name: t.name, entity_type: t.entity_type, rows_in: t.rows_in, items_out: t.items_out, rejected: t.rejected, dropped: t.dropped, warnings: t.warnings, ddb_bytes: t.ddb_bytes, max_item_bytes: t.max_item_bytes })),
    };
    out.set('summary.json', `${JSON.stringify(summary, null, 2)}\n`);
    return out;
  } finally {
    await rm(store, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const model = modelDir(process.env.MODEL);
  for (const kind of model ? ['realistic'] as const : ['realistic', 'hostile'] as const) {
    const golden = await computeGolden(kind, model);
    const dir = goldenDir(kind, model);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    for (const [file, content] of golden) await writeFile(path.join(dir, file), content);
    process.stderr.write(`wrote ${golden.size} ${kind} golden files to ${dir}\n`);
  }
}
