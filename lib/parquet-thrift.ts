// Thrift's compact protocol, the encoding of Parquet's footer and page headers
// (parquet.thrift). Only what Parquet metadata uses: structs, lists, i32/i64,
// binary and bool. Values are built and read by field id, as parquet.thrift
// numbers them, so each caller names the fields it writes or reads.

const STOP = 0;
const TRUE = 1;
const FALSE = 2;
const BYTE = 3;
const I32 = 5;
const I64 = 6;
const BINARY = 8;
const LIST = 9;
const STRUCT = 12;

export type ThriftValue =
  | { t: 'i8'; v: number }
  | { t: 'i32'; v: number }
  | { t: 'i64'; v: bigint }
  | { t: 'bin'; v: string | Uint8Array }
  | { t: 'bool'; v: boolean }
  | { t: 'struct'; v: ThriftStruct }
  | { t: 'list'; v: ThriftValue[]; elem: 'i32' | 'bin' | 'struct' };

/** Fields by id; undefined fields are not written (Thrift `optional`). */
export type ThriftStruct = Record<number, ThriftValue | undefined>;

export const i8 = (v: number): ThriftValue => ({ t: 'i8', v });
export const i32 = (v: number): ThriftValue => ({ t: 'i32', v });
export const i64 = (v: number | bigint): ThriftValue => ({ t: 'i64', v: BigInt(v) });
export const bin = (v: string | Uint8Array): ThriftValue => ({ t: 'bin', v });
export const bool = (v: boolean): ThriftValue => ({ t: 'bool', v });
export const struct = (v: ThriftStruct): ThriftValue => ({ t: 'struct', v });
export const list = (elem: 'i32' | 'bin' | 'struct', v: ThriftValue[]): ThriftValue => ({ t: 'list', v, elem });

const TYPE_CODE = { i8: BYTE, i32: I32, i64: I64, bin: BINARY, struct: STRUCT, list: LIST } as const;

class ByteWriter {
  private readonly bytes: number[] = [];
  byte(b: number): void { this.bytes.push(b & 0xff); }
  varint(n: bigint): void {
    let v = n;
    while (v >= 0x80n) { this.byte(Number(v & 0x7fn) | 0x80); v >>= 7n; }
    this.byte(Number(v));
  }
  zigzag(n: bigint): void { this.varint(n >= 0n ? n << 1n : ((-n) << 1n) - 1n); }
  raw(data: Uint8Array): void { for (const b of data) this.bytes.push(b); }
  buffer(): Buffer { return Buffer.from(this.bytes); }
}

/** The compact-protocol bytes of a struct. */
export function encodeStruct(fields: ThriftStruct): Buffer {
  const out = new ByteWriter();
  writeStruct(out, fields);
  return out.buffer();
}

function writeStruct(out: ByteWriter, fields: ThriftStruct): void {
  let last = 0;
  for (const id of Object.keys(fields).map(Number).sort((a, b) => a - b)) {
    const value = fields[id];
    if (value === undefined) continue;
    const type = value.t === 'bool' ? (value.v ? TRUE : FALSE) : TYPE_CODE[value.t];
    const delta = id - last;
    if (delta > 0 && delta <= 15) out.byte((delta << 4) | type);
    else { out.byte(type); out.zigzag(BigInt(id)); }
    last = id;
    if (value.t !== 'bool') writeValue(out, value);
  }
  out.byte(STOP);
}

function writeValue(out: ByteWriter, value: ThriftValue): void {
  switch (value.t) {
    case 'i8': out.byte(value.v); break;
    case 'i32': out.zigzag(BigInt(value.v)); break;
    case 'i64': out.zigzag(value.v); break;
    case 'bin': {
      const data = typeof value.v === 'string' ? Buffer.from(value.v, 'utf8') : value.v;
      out.varint(BigInt(data.length));
      out.raw(data);
      break;
    }
    case 'bool': out.byte(value.v ? TRUE : FALSE); break;
    case 'struct': writeStruct(out, value.v); break;
    case 'list': {
      const elem = TYPE_CODE[value.elem];
      if (value.v.length < 15) out.byte((value.v.length << 4) | elem);
      else { out.byte(0xf0 | elem); out.varint(BigInt(value.v.length)); }
      for (const item of value.v) writeValue(out, item);
      break;
    }
  }
}

/** A decoded struct: field id → number (i8/i16/i32/i64), boolean, Buffer, nested struct or array. */
export interface Decoded { [id: number]: DecodedValue }
export type DecodedValue = number | boolean | Buffer | Decoded | DecodedValue[];

/** Decodes one struct at `offset`; returns it and the offset after it (page headers precede their data). */
export function decodeStruct(data: Buffer, offset = 0): { value: Decoded; end: number } {
  const reader = new ByteReader(data, offset);
  const value = reader.struct();
  return { value, end: reader.pos };
}

class ByteReader {
  constructor(private readonly data: Buffer, public pos: number) {}

  private byte(): number {
    if (this.pos >= this.data.length) throw new Error('Parquet metadata ends early (the file is truncated or not Parquet)');
    return this.data[this.pos++]!;
  }

  private varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  }

  private zigzag(): number {
    const n = this.varint();
    // Offsets and counts in Parquet metadata stay far below 2^53.
    return Number((n >> 1n) ^ -(n & 1n));
  }

  struct(): Decoded {
    const out: Decoded = {};
    let last = 0;
    for (;;) {
      const head = this.byte();
      if (head === STOP) return out;
      const type = head & 0x0f;
      const delta = head >> 4;
      const id = delta === 0 ? this.zigzag() : last + delta;
      last = id;
      out[id] = type === TRUE ? true : type === FALSE ? false : this.value(type);
    }
  }

  private value(type: number): DecodedValue {
    switch (type) {
      case TRUE: case FALSE: return this.byte() === TRUE;
      case BYTE: return this.byte() << 24 >> 24;
      case 4: case I32: case I64: return this.zigzag();
      case 7: { const v = this.data.readDoubleLE(this.pos); this.pos += 8; return v; }
      case BINARY: {
        const length = Number(this.varint());
        if (this.pos + length > this.data.length) throw new Error('Parquet metadata ends early (the file is truncated or not Parquet)');
        const v = this.data.subarray(this.pos, this.pos + length);
        this.pos += length;
        return v;
      }
      case LIST: case 10: {
        const head = this.byte();
        const size = head >> 4 === 15 ? Number(this.varint()) : head >> 4;
        const elem = head & 0x0f;
        return Array.from({ length: size }, () => this.value(elem));
      }
      case 11: { // map
        const size = Number(this.varint());
        if (size === 0) return [];
        const kinds = this.byte();
        return Array.from({ length: size }, () => [this.value(kinds >> 4), this.value(kinds & 0x0f)]);
      }
      case STRUCT: return this.struct();
      default: throw new Error(`Parquet metadata holds an unknown Thrift type ${type}`);
    }
  }
}
