// Copies one table, inside the run's snapshot, to one compressed object:
// COPY (SELECT … ORDER BY …) TO STDOUT → 256 KB chunks → count + sha256 of the raw text → gzip|zstd|none → storage.
// gzip runs on zlib's thread pool and zstd in its own process, so the main
// thread only moves buffers: the COPY is read as fast as the server sends it.
// With `--format parquet|both` the same COPY text also (or only) becomes a
// Parquet object beside it (extract/parquet-part.ts).
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { to as copyTo } from 'pg-copy-streams';
import { compressionSuffix, compressor, type Compression } from '../lib/compression.ts';
import { Coalesce } from '../lib/coalesce.ts';
import { Meter } from '../lib/meter.ts';
import { quoteIdent, type PgClient } from '../lib/postgres.ts';
import { extractPartKey } from '../lib/run-layout.ts';
import type { ExtractFormat, ParquetFile, PartEntry } from '../lib/manifest.ts';
import type { PutResult, Storage } from '../lib/storage.ts';
import { sourceRelation, type CatalogTable } from './catalog.ts';
import { ParquetEncoder, parquetSettings } from './parquet-part.ts';
import { rangePredicate, type KeyRange } from './split.ts';

/**
 * The ORDER BY that makes the same data give byte-identical files.
 * Text keys sort with COLLATE "C" so the order does not depend on the
 * server's locale; a table without a primary key sorts by every column's text.
 */
export function orderBy(table: CatalogTable): string[] {
  if (table.primary_key.length > 0) {
    return table.primary_key.map((name) => {
      const column = table.columns.find((c) => c.name === name)!;
      return column.collatable ? `${quoteIdent(name)} COLLATE "C"` : quoteIdent(name);
    });
  }
  return table.columns.map((c) => `${quoteIdent(c.name)}::text COLLATE "C"`);
}

export function copySql(table: CatalogTable, range: KeyRange = {}): string {
  const columns = table.columns.map((c) => quoteIdent(c.name)).join(', ');
  return `COPY (SELECT ${columns} FROM ${sourceRelation(table)}${rangePredicate(table, range)} ORDER BY ${orderBy(table).join(', ')}) TO STDOUT (FORMAT csv, HEADER)`;
}

/** A stream or file-system error the reading side saw because the storage side failed (not a PostgreSQL error). */
function isStorageSideEffect(err: unknown): boolean {
  const e = err as { syscall?: string; code?: string };
  return !!e.syscall || (e.code ?? '').startsWith('ERR_STREAM');
}

export async function copyTable(
  client: PgClient,
  table: CatalogTable,
  part: { index: number; range: KeyRange },
  run: Storage,
  compression: { compression: Compression; level: number },
  onProgress: (approxRows: number, rawBytes: number) => void,
  format: ExtractFormat = 'csv',
): Promise<PartEntry> {
  const key = extractPartKey(table.name, part.index, `csv${compressionSuffix(compression.compression)}`);
  const parquetKey = extractPartKey(table.name, part.index, 'parquet');
  let lines = 0;
  const raw = new Meter((chunk) => {
    // Newlines only approximate rows (quoted values may hold newlines); the
    // exact count comes from COPY's own completion tag.
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    onProgress(Math.max(lines - 1, 0), raw.bytes);
  });
  const copy = client.query(copyTo(copySql(table, part.range)));
  const packed = format === 'parquet' ? undefined : compressor(compression.compression, compression.level);
  const parquet = format === 'csv' ? undefined : new ParquetEncoder(table.columns, parquetSettings());
  // Parquet alone: the COPY text, once converted, goes nowhere.
  const sink = packed ?? new Writable({ write: (_chunk, _encoding, done) => done() });
  const reading = pipeline([copy, new Coalesce(), raw, ...(parquet ? [parquet] : []), sink]);
  const [read, csvStored, parquetStored] = await Promise.allSettled([
    reading,
    packed ? run.put(key, packed) : undefined,
    parquet ? run.put(parquetKey, parquet.parquet) : undefined,
  ]);
  const storeFailure = [csvStored, parquetStored].find((s) => s.status === 'rejected');
  // A failed COPY also fails the upload, and a failed write (disk full) also
  // fails the COPY's pipeline: report the cause, not the symptom.
  if (read.status === 'rejected' && !(storeFailure && isStorageSideEffect(read.reason))) throw read.reason;
  if (storeFailure) throw storeFailure.reason;
  const stored = (s: PromiseSettledResult<PutResult | undefined>) => (s as PromiseFulfilledResult<PutResult | undefined>).value;
  const parquetFile: ParquetFile | undefined = parquet && { key: parquetKey, ...stored(parquetStored)!, row_groups: parquet.rowGroups };
  // The part's own file is the CSV when there is one (readers of CSV runs see no change).
  const own = packed ? { key, ...stored(csvStored)! } : parquetFile!;
  return {
    key: own.key, rows: copy.rowCount, raw_bytes: raw.bytes, raw_sha256: raw.sha256, bytes: own.bytes, sha256: own.sha256,
    ...(part.range.from || part.range.to ? { range: part.range } : {}),
    ...(parquetFile ? { parquet: parquetFile } : {}),
  };
}
