// The parts of the Parquet file format both sides use: the magic, codecs,
// definition levels (RLE/bit-packed hybrid), page headers and the footer's
// schema, as parquet.thrift and the Parquet encodings spec define them.
// Extract writes with extract/parquet-writer.ts; transform reads with
// transform/parquet-rows.ts. Only what a pg2ddb file needs: flat columns,
// PLAIN values, data pages v1, no dictionary, no statistics.
import { gunzipSync, gzipSync } from 'node:zlib';
import snappy from 'snappyjs';
import { ConvertedType, PhysicalType, type ParquetColumn } from './parquet-types.ts';
import { bin, bool, i8, i32, list, struct, type Decoded, type ThriftValue } from './parquet-thrift.ts';

export const MAGIC = Buffer.from('PAR1');
export const CREATED_BY = 'pg2ddb';

export type ParquetCompression = 'snappy' | 'gzip';
/** parquet.thrift `CompressionCodec`. */
export const CODEC = { snappy: 1, gzip: 2 } as const;
export const Encoding = { PLAIN: 0, RLE: 3 } as const;
export const PAGE_DATA = 0;

export function compress(codec: ParquetCompression, data: Buffer): Buffer {
  // gzip level 6 (zlib's default): Parquet readers decompress it as any gzip.
  if (codec === 'gzip') return gzipSync(data);
  const out = snappy.compress(data);
  return Buffer.isBuffer(out) ? out : Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

export function decompress(codec: number, data: Buffer): Buffer {
  if (codec === 0) return data;
  if (codec === CODEC.gzip) return gunzipSync(data);
  if (codec === CODEC.snappy) {
    // snappyjs answers a Buffer with a Buffer: no copy needed.
    const out = snappy.uncompress(data);
    return Buffer.isBuffer(out) ? out : Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  }
  throw new Error(`Parquet codec ${codec} is not one pg2ddb writes (snappy or gzip)`);
}

/**
 * Definition levels of an OPTIONAL flat column (1 = value, 0 = NULL) as the
 * RLE/bit-packed hybrid, 4-byte length first (data page v1). Only RLE runs are
 * written: valid for every reader, and compact for the long runs NULLs make.
 */
export function encodeDefinitionLevels(levels: Uint8Array, count: number): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < count;) {
    let run = 1;
    while (i + run < count && levels[i + run] === levels[i]) run++;
    for (let header = run << 1; ; header >>>= 7) {
      if (header < 0x80) { bytes.push(header); break; }
      bytes.push((header & 0x7f) | 0x80);
    }
    bytes.push(levels[i]!);
    i += run;
  }
  const out = Buffer.alloc(4 + bytes.length);
  out.writeUInt32LE(bytes.length, 0);
  Buffer.from(bytes).copy(out, 4);
  return out;
}

/** Reads `count` bit-width-1 definition levels (RLE or bit-packed runs) at `offset`; returns them and the offset after. */
export function decodeDefinitionLevels(data: Buffer, offset: number, count: number): { levels: Uint8Array; end: number } {
  const length = data.readUInt32LE(offset);
  const end = offset + 4 + length;
  const levels = new Uint8Array(count);
  let pos = offset + 4;
  let n = 0;
  while (n < count && pos < end) {
    let header = 0;
    for (let shift = 0; ; shift += 7) {
      const b = data[pos++]!;
      header += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    if (header % 2 === 0) {
      const value = data[pos++]!;
      for (let k = header / 2; k > 0 && n < count; k--) levels[n++] = value;
    } else {
      // Bit-packed: groups of 8 values, one byte per group at bit width 1, least significant bit first.
      const bytes = (header - 1) / 2;
      for (let b = 0; b < bytes; b++) {
        const byte = data[pos++]!;
        for (let bit = 0; bit < 8 && n < count; bit++) levels[n++] = (byte >> bit) & 1;
      }
    }
  }
  if (n !== count) throw new Error('Parquet definition levels end early');
  return { levels, end };
}

/** The schema of a flat file: a root group, then one leaf per column. */
export function schemaElements(columns: ParquetColumn[]): ThriftValue[] {
  const root = struct({ 4: bin('schema'), 5: i32(columns.length) });
  return [root, ...columns.map((c) => struct({
    1: i32(c.physical),
    2: c.width !== undefined ? i32(c.width) : undefined,
    3: i32(c.required ? 0 : 1),
    4: bin(c.name),
    6: convertedType(c) !== undefined ? i32(convertedType(c)!) : undefined,
    7: c.kind === 'decimal' ? i32(c.scale!) : undefined,
    8: c.kind === 'decimal' ? i32(c.precision!) : undefined,
    10: logicalType(c),
  }))];
}

function convertedType(c: ParquetColumn): number | undefined {
  switch (c.kind) {
    case 'text': return ConvertedType.UTF8;
    case 'decimal': return ConvertedType.DECIMAL;
    case 'date': return ConvertedType.DATE;
    case 'timestamptz': return ConvertedType.TIMESTAMP_MICROS;
    case 'int16': return ConvertedType.INT_16;
    default: return undefined;
  }
}

/** parquet.thrift `LogicalType` (a union: the one field set names the type). */
function logicalType(c: ParquetColumn): ThriftValue | undefined {
  switch (c.kind) {
    case 'text': return struct({ 1: struct({}) });
    case 'decimal': return struct({ 5: struct({ 1: i32(c.scale!), 2: i32(c.precision!) }) });
    case 'date': return struct({ 6: struct({}) });
    // TIMESTAMP(isAdjustedToUTC=true, unit=MICROS): an instant, as timestamptz is.
    case 'timestamptz': return struct({ 8: struct({ 1: bool(true), 2: struct({ 2: struct({}) }) }) });
    case 'int16': return struct({ 10: struct({ 1: i8(16), 2: bool(true) }) });
    default: return undefined;
  }
}

export const stringList = (values: string[]) => list('bin', values.map((v) => bin(v)));

/**
 * The columns of a file, from its footer's schema: the inverse of
 * `schemaElements`, so a file says itself how to read it back.
 */
export function parquetColumnsOf(metadata: Decoded): ParquetColumn[] {
  const elements = metadata[2] as Decoded[];
  return elements.slice(1).map((e) => {
    const physical = e[1] as number;
    const converted = e[6] as number | undefined;
    const base = { name: (e[4] as Buffer).toString('utf8'), physical, required: e[3] === 0 };
    if (converted === ConvertedType.DECIMAL) {
      return { ...base, kind: 'decimal', precision: e[8] as number, scale: e[7] as number, ...(physical === PhysicalType.FIXED_LEN_BYTE_ARRAY ? { width: e[2] as number } : {}) };
    }
    const kind = physical === PhysicalType.BOOLEAN ? 'boolean'
      : physical === PhysicalType.INT32 ? (converted === ConvertedType.DATE ? 'date' : converted === ConvertedType.INT_16 ? 'int16' : 'int32')
      : physical === PhysicalType.INT64 ? (converted === ConvertedType.TIMESTAMP_MICROS ? 'timestamptz' : 'int64')
      : physical === PhysicalType.BYTE_ARRAY ? (converted === ConvertedType.UTF8 ? 'text' : 'bytea')
      : undefined;
    if (!kind) throw new Error(`Parquet column ${base.name} has physical type ${physical}, which pg2ddb does not write`);
    return { ...base, kind };
  });
}
