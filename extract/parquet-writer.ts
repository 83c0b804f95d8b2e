// A streaming Parquet writer for one extract part: rows of PostgreSQL text
// fields in, file bytes out through `emit`, in order. A row group is cut
// when the COPY text of its rows reaches the byte budget; within it, each
// column is sealed into compressed data pages of about 1 MiB as it grows, so
// memory holds one row group's compressed pages and one open page per column.
// Own writer, kept after measuring the maintained ones (README "Parquet
// writer", make bench-parquet-writers): those that write exact DECIMAL and
// UTC timestamps take 2-3x this memory per writer.
import { ByteBuffer } from '../lib/byte-buffer.ts';
import { encodeStruct, i32, i64, list, bin, struct, type ThriftValue } from '../lib/parquet-thrift.ts';
import {
  CODEC, CREATED_BY, Encoding, MAGIC, PAGE_DATA, compress, encodeDefinitionLevels, schemaElements, stringList,
  type ParquetCompression,
} from '../lib/parquet-format.ts';
import { PhysicalType, UnrepresentableValue, toParquet, toPgText, type ParquetColumn } from '../lib/parquet-types.ts';

export interface ParquetWriterOptions {
  compression: ParquetCompression;
  /** Cut a row group once its rows' COPY text reaches this many bytes. */
  rowGroupBytes: number;
}

/** Uncompressed bytes per data page: small enough to decode one at a time, large enough to compress well. */
const PAGE_BYTES = 1024 * 1024;

/** One column's chunk of the current row group: sealed pages plus the open one. */
class ColumnChunk {
  private readonly values = new ByteBuffer();
  private levels = new Uint8Array(1024);
  /** Values (NULLs included) in the open page. */
  private count = 0;
  private pages: Buffer[] = [];
  private rowsInChunk = 0;
  private uncompressed = 0;

  constructor(readonly column: ParquetColumn, private readonly compression: ParquetCompression) {}

  add(text: string | null): void {
    if (this.count === this.levels.length) {
      const grown = new Uint8Array(this.levels.length * 2);
      grown.set(this.levels);
      this.levels = grown;
    }
    if (text === null) {
      if (this.column.required) throw new UnrepresentableValue('a NULL in a NOT NULL column');
      this.levels[this.count++] = 0;
    } else {
      this.levels[this.count++] = 1;
      this.writeValue(text);
    }
    this.rowsInChunk++;
    if (this.values.length >= PAGE_BYTES) this.sealPage();
  }

  private writeValue(text: string): void {
    const sink = this.values;
    const { column } = this;
    if (column.kind === 'text') {
      // The hot path: UTF-8 straight into the page, no round trip to check.
      sink.reserve(4 + text.length * 3);
      const length = sink.buffer.write(text, sink.length + 4, 'utf8');
      sink.buffer.writeUInt32LE(length, sink.length);
      sink.length += 4 + length;
      return;
    }
    const value = toParquet(column, text);
    // Every typed value must read back as the very text COPY printed, or transform could differ between formats.
    if (toPgText(column, value) !== text) throw new UnrepresentableValue(`a ${column.kind} value that would not read back as PostgreSQL printed it`);
    switch (column.physical) {
      case PhysicalType.BOOLEAN:
        // One byte per value here; packed to bits when the page is sealed.
        sink.reserve(1);
        sink.buffer[sink.length++] = value as number;
        break;
      case PhysicalType.INT32:
        sink.reserve(4);
        sink.buffer.writeInt32LE(Number(value), sink.length);
        sink.length += 4;
        break;
      case PhysicalType.INT64:
        sink.reserve(8);
        sink.buffer.writeBigInt64LE(BigInt(value as number | bigint), sink.length);
        sink.length += 8;
        break;
      case PhysicalType.FIXED_LEN_BYTE_ARRAY: {
        // DECIMAL: the unscaled value, two's complement, big-endian, `width` bytes.
        const width = column.width!;
        let v = BigInt.asUintN(8 * width, value as bigint);
        sink.reserve(width);
        for (let i = width - 1; i >= 0; i--) { sink.buffer[sink.length + i] = Number(v & 0xffn); v >>= 8n; }
        sink.length += width;
        break;
      }
      case PhysicalType.BYTE_ARRAY: {
        const bytes = value as Buffer;
        sink.reserve(4 + bytes.length);
        sink.buffer.writeUInt32LE(bytes.length, sink.length);
        bytes.copy(sink.buffer, sink.length + 4);
        sink.length += 4 + bytes.length;
        break;
      }
    }
  }

  private sealPage(): void {
    if (this.count === 0) return;
    let values = this.values.take();
    if (this.column.physical === PhysicalType.BOOLEAN) values = packBits(values);
    const body = this.column.required ? values : Buffer.concat([encodeDefinitionLevels(this.levels, this.count), values]);
    const data = compress(this.compression, body);
    const header = encodeStruct({
      1: i32(PAGE_DATA),
      2: i32(body.length),
      3: i32(data.length),
      5: struct({ 1: i32(this.count), 2: i32(Encoding.PLAIN), 3: i32(Encoding.RLE), 4: i32(Encoding.RLE) }),
    });
    this.pages.push(header, data);
    this.uncompressed += header.length + body.length;
    this.count = 0;
  }

  /** Seals the open page and hands over the chunk's bytes and its metadata (given where it starts in the file). */
  finish(offset: number): { bytes: Buffer[]; meta: ThriftValue; compressed: number; uncompressed: number } {
    this.sealPage();
    const bytes = this.pages;
    const compressed = bytes.reduce((n, b) => n + b.length, 0);
    const meta = struct({
      2: i64(offset),
      3: struct({
        1: i32(this.column.physical),
        2: list('i32', [i32(Encoding.PLAIN), i32(Encoding.RLE)]),
        3: stringList([this.column.name]),
        4: i32(CODEC[this.compression]),
        5: i64(this.rowsInChunk),
        6: i64(this.uncompressed),
        7: i64(compressed),
        9: i64(offset),
      }),
    });
    const uncompressed = this.uncompressed;
    this.pages = [];
    this.rowsInChunk = 0;
    this.uncompressed = 0;
    return { bytes, meta, compressed, uncompressed };
  }
}

/** PLAIN booleans: one bit per value, least significant bit first. */
function packBits(bytes: Buffer): Buffer {
  const out = Buffer.alloc(Math.ceil(bytes.length / 8));
  for (let i = 0; i < bytes.length; i++) if (bytes[i]) out[i >> 3]! |= 1 << (i & 7);
  return out;
}

export class ParquetWriter {
  private readonly chunks: ColumnChunk[];
  private readonly rowGroups: ThriftValue[] = [];
  private offset = 0;
  private groupRows = 0;
  private groupBytes = 0;
  private rows = 0;

  constructor(private readonly columns: ParquetColumn[], private readonly options: ParquetWriterOptions, private readonly emit: (bytes: Buffer) => void) {
    this.chunks = columns.map((c) => new ColumnChunk(c, options.compression));
    this.write(MAGIC);
  }

  get rowGroupCount(): number { return this.rowGroups.length; }

  /**
   * Adds one row of COPY text fields. A value its column cannot hold exactly
   * throws UnrepresentableValue naming the column (the caller adds table and row).
   */
  addRow(fields: (string | null)[]): void {
    if (fields.length !== this.columns.length) throw new Error(`a row of ${fields.length} fields where the table has ${this.columns.length} columns`);
    for (let i = 0; i < fields.length; i++) {
      const text = fields[i]!;
      try {
        this.chunks[i]!.add(text);
      } catch (err) {
        if (err instanceof UnrepresentableValue) throw new UnrepresentableValue(`column ${this.columns[i]!.name}: ${err.message}`);
        throw err;
      }
      this.groupBytes += (text?.length ?? 0) + 1;
    }
    this.groupRows++;
    this.rows++;
    if (this.groupBytes >= this.options.rowGroupBytes) this.flushRowGroup();
  }

  /** Writes the last row group and the footer. */
  finish(): void {
    this.flushRowGroup();
    const footer = encodeStruct({
      1: i32(1),
      2: list('struct', schemaElements(this.columns)),
      3: i64(this.rows),
      4: list('struct', this.rowGroups),
      6: bin(CREATED_BY),
    });
    const length = Buffer.alloc(4);
    length.writeUInt32LE(footer.length);
    this.write(footer);
    this.write(length);
    this.write(MAGIC);
  }

  private flushRowGroup(): void {
    if (this.groupRows === 0) return;
    const start = this.offset;
    const metas: ThriftValue[] = [];
    let compressed = 0;
    let uncompressed = 0;
    for (const chunk of this.chunks) {
      const done = chunk.finish(this.offset);
      for (const bytes of done.bytes) this.write(bytes);
      metas.push(done.meta);
      compressed += done.compressed;
      uncompressed += done.uncompressed;
    }
    this.rowGroups.push(struct({
      1: list('struct', metas),
      2: i64(uncompressed),
      3: i64(this.groupRows),
      5: i64(start),
      6: i64(compressed),
    }));
    this.groupRows = 0;
    this.groupBytes = 0;
  }

  private write(bytes: Buffer): void {
    this.offset += bytes.length;
    this.emit(bytes);
  }
}
