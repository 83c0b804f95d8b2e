// Reads a Parquet extract part as the rows COPY's CSV would have given: every
// field as PostgreSQL's text output (`toPgText`), NULL as null, so the
// decoders and mappers downstream cannot tell the formats apart and both give
// the same items. Parquet is read from its footer, so the part is first
// copied to a temp file (hashing it on the way, and checked against the
// manifest before anything is parsed); then one row group's bytes at a time
// are read (memory bounded by the extract's row-group budget) and turned into
// text 1024 rows at a time.
import { createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { UserError, errorMessage } from '../lib/errors.ts';
import { changedAfterExtract, type PartEntry } from '../lib/manifest.ts';
import { Meter } from '../lib/meter.ts';
import { MAGIC, PAGE_DATA, decodeDefinitionLevels, decompress, parquetColumnsOf } from '../lib/parquet-format.ts';
import { decodeStruct, type Decoded } from '../lib/parquet-thrift.ts';
import { PhysicalType, decimalText, toPgText, type ParquetColumn } from '../lib/parquet-types.ts';
import type { Storage } from '../lib/storage.ts';
import type { CsvRow } from '../lib/csv-records.ts';

/** Rows decoded at a time, and between calls of `onChunk` (progress and output backpressure): about one CSV input chunk. */
const ROWS_PER_CHUNK = 1024;

export async function readParquetRows(
  run: Storage, table: string, part: PartEntry,
  onRow: (row: CsvRow, rowNumber: number) => void,
  onChunk?: () => void | Promise<void>,
): Promise<number> {
  const where = `${run.uri}/${part.key} (table ${table})`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-parquet-'));
  let file: FileHandle | undefined;
  try {
    const local = path.join(dir, 'part.parquet');
    const stored = new Meter();
    try {
      await pipeline(await run.get(part.key), stored, createWriteStream(local));
    } catch (err) {
      throw new UserError(`${where}: ${errorMessage(err)}`);
    }
    if (stored.sha256 !== part.sha256) throw new UserError(`${where} does not match the extract manifest's sha256: ${changedAfterExtract(table)}`);
    file = await open(local, 'r');
    let rowNumber = 0;
    try {
      const metadata = await readFooter(file, stored.bytes);
      const columns = parquetColumnsOf(metadata);
      for (const group of (metadata[4] as Decoded[] | undefined) ?? []) {
        const rows = group[3] as number;
        const cursors: ColumnCursor[] = [];
        for (const [i, chunk] of (group[1] as Decoded[]).entries()) {
          const meta = chunk[3] as Decoded;
          const start = (meta[11] as number | undefined) ?? (meta[9] as number);
          cursors.push(new ColumnCursor(await readAt(file, start, meta[7] as number), meta[4] as number, columns[i]!));
        }
        for (let done = 0; done < rows; done += ROWS_PER_CHUNK) {
          const batch = Math.min(ROWS_PER_CHUNK, rows - done);
          const values = cursors.map((cursor) => cursor.next(batch));
          for (let r = 0; r < batch; r++) onRow(values.map((column) => column[r]!), ++rowNumber);
          await onChunk?.();
        }
      }
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw new UserError(`${where}: ${errorMessage(err)}`);
    }
    if (rowNumber !== part.rows) throw new UserError(`${where} holds ${rowNumber} rows where the extract manifest says ${part.rows}`);
    return rowNumber;
  } finally {
    await file?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await file.read(buffer, 0, length, position);
  if (bytesRead !== length) throw new Error('the Parquet file ends early');
  return buffer;
}

/** The footer: `<FileMetaData> <length u32> PAR1` at the end of the file. */
async function readFooter(file: FileHandle, size: number): Promise<Decoded> {
  if (size < 12) throw new Error('not a Parquet file (too short)');
  const tail = await readAt(file, size - 8, 8);
  const head = await readAt(file, 0, 4);
  if (!tail.subarray(4).equals(MAGIC) || !head.equals(MAGIC)) throw new Error('not a Parquet file (no PAR1 magic)');
  const length = tail.readUInt32LE(0);
  return decodeStruct(await readAt(file, size - 8 - length, length)).value;
}

/**
 * One column chunk of a row group, decoded a batch at a time: its pages stay
 * bytes (off the JS heap) and only the batch's values become strings, which
 * die young. Whole row groups of strings lived long enough to cost twice the
 * transform time in garbage collection.
 */
class ColumnCursor {
  private pos = 0;
  private page: Buffer = Buffer.alloc(0);
  private at = 0;
  private levels: Uint8Array | undefined;
  private index = 0;
  private count = 0;
  private bit = 0;

  constructor(private readonly data: Buffer, private readonly codec: number, private readonly column: ParquetColumn) {}

  /** The next `n` values as PostgreSQL text, NULL as null. */
  next(n: number): CsvRow {
    const out: CsvRow = new Array(n);
    for (let i = 0; i < n; i++) {
      if (this.index === this.count) this.nextPage();
      out[i] = this.levels && this.levels[this.index] === 0 ? null : this.value();
      this.index++;
    }
    return out;
  }

  private nextPage(): void {
    if (this.pos >= this.data.length) throw new Error(`column ${this.column.name} holds fewer values than its row group's rows`);
    const { value: header, end } = decodeStruct(this.data, this.pos);
    if (header[1] !== PAGE_DATA) throw new Error(`column ${this.column.name}: page type ${String(header[1])}, which pg2ddb does not write`);
    const size = header[3] as number;
    this.page = decompress(this.codec, this.data.subarray(end, end + size));
    this.pos = end + size;
    this.count = (header[5] as Decoded)[1] as number;
    this.index = 0;
    this.bit = 0;
    this.levels = undefined;
    this.at = 0;
    if (!this.column.required) ({ levels: this.levels, end: this.at } = decodeDefinitionLevels(this.page, 0, this.count));
  }

  /** The next PLAIN value of the page. */
  private value(): string {
    const { page, column } = this;
    const pos = this.at;
    switch (column.physical) {
      case PhysicalType.BOOLEAN: {
        const bit = this.bit++;
        return toPgText(column, (page[pos + (bit >> 3)]! >> (bit & 7)) & 1);
      }
      case PhysicalType.INT32:
        this.at += 4;
        return toPgText(column, page.readInt32LE(pos));
      case PhysicalType.INT64:
        this.at += 8;
        return toPgText(column, page.readBigInt64LE(pos));
      case PhysicalType.FIXED_LEN_BYTE_ARRAY: {
        const width = column.width!;
        this.at += width;
        return decimalText(BigInt.asIntN(8 * width, BigInt(`0x${page.toString('hex', pos, pos + width)}`)), column.scale!);
      }
      case PhysicalType.BYTE_ARRAY: {
        const length = page.readUInt32LE(pos);
        this.at += 4 + length;
        return column.kind === 'text' ? page.toString('utf8', pos + 4, pos + 4 + length) : toPgText(column, page.subarray(pos + 4, pos + 4 + length));
      }
      default: throw new Error(`column ${column.name}: physical type ${column.physical}, which pg2ddb does not write`);
    }
  }
}
