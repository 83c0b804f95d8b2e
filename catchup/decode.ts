// pgoutput's binary messages (protocol version 1, "Logical Replication Message
// Formats" in the PostgreSQL manual) as catchup reads them: one message per
// row of pg_logical_slot_peek_binary_changes. Values arrive as the type's text
// output, the same text COPY prints, so the transform mappers read them as
// they read an extract file.

/** A column value: text, SQL NULL, or `unchanged` (a TOASTed value an update did not touch, sent without its text). */
export type TupleValue = string | null | typeof UNCHANGED;
export const UNCHANGED = Symbol('unchanged TOAST value');

/** `types`: each column's type oid and typmod, as the change was made (an ALTER TYPE since the extract shows there). */
export interface Relation { id: number; schema: string; table: string; columns: string[]; types: { oid: number; typmod: number }[] }

export type Message =
  | { kind: 'begin'; finalLsn: string; commitTime: Date; xid: number }
  | { kind: 'commit'; commitLsn: string; endLsn: string }
  | { kind: 'relation'; relation: Relation }
  | { kind: 'insert'; relationId: number; row: TupleValue[] }
  /** `keyOnly`: the old row came with the replica identity's key columns only (the rest NULL), not whole (REPLICA IDENTITY FULL). */
  | { kind: 'update'; relationId: number; old?: TupleValue[]; keyOnly?: boolean; row: TupleValue[] }
  | { kind: 'delete'; relationId: number; old: TupleValue[]; keyOnly?: boolean }
  | { kind: 'truncate'; relationIds: number[] }
  | { kind: 'other'; tag: string };

class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  byte(): number { return this.buf.readUInt8(this.at++); }
  char(): string { return String.fromCharCode(this.byte()); }
  int16(): number { const v = this.buf.readInt16BE(this.at); this.at += 2; return v; }
  int32(): number { const v = this.buf.readInt32BE(this.at); this.at += 4; return v; }
  uint32(): number { const v = this.buf.readUInt32BE(this.at); this.at += 4; return v; }
  /** An LSN in PostgreSQL's `X/Y` text. */
  lsn(): string { const hi = this.uint32(); const lo = this.uint32(); return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`; }
  /** PostgreSQL's timestamps: microseconds since 2000-01-01 UTC. */
  timestamp(): Date { const us = this.buf.readBigInt64BE(this.at); this.at += 8; return new Date(Date.UTC(2000, 0, 1) + Number(us / 1000n)); }
  skip(n: number): void { this.at += n; }
  cstring(): string {
    const end = this.buf.indexOf(0, this.at);
    const text = this.buf.toString('utf8', this.at, end);
    this.at = end + 1;
    return text;
  }
  tuple(): TupleValue[] {
    const n = this.int16();
    const values: TupleValue[] = [];
    for (let i = 0; i < n; i++) {
      const kind = this.char();
      if (kind === 'n') values.push(null);
      else if (kind === 'u') values.push(UNCHANGED);
      else if (kind === 't') {
        const length = this.int32();
        values.push(this.buf.toString('utf8', this.at, this.at + length));
        this.at += length;
      } else throw new Error(`pgoutput: column value of kind ${JSON.stringify(kind)} (binary values are not asked for)`);
    }
    return values;
  }
}

export function decodeMessage(data: Buffer): Message {
  const r = new Reader(data);
  const tag = r.char();
  switch (tag) {
    case 'B': {
      const finalLsn = r.lsn();
      const commitTime = r.timestamp();
      return { kind: 'begin', finalLsn, commitTime, xid: r.int32() };
    }
    case 'C': {
      r.skip(1); // flags
      const commitLsn = r.lsn();
      return { kind: 'commit', commitLsn, endLsn: r.lsn() };
    }
    case 'R': {
      const id = r.uint32();
      const schema = r.cstring();
      const table = r.cstring();
      r.skip(1); // replica identity
      const n = r.int16();
      const columns: string[] = [];
      const types: { oid: number; typmod: number }[] = [];
      for (let i = 0; i < n; i++) {
        r.skip(1); // flags (part of the key)
        columns.push(r.cstring());
        types.push({ oid: r.uint32(), typmod: r.int32() });
      }
      return { kind: 'relation', relation: { id, schema, table, columns, types } };
    }
    case 'I': {
      const relationId = r.uint32();
      r.char(); // 'N'
      return { kind: 'insert', relationId, row: r.tuple() };
    }
    case 'U': {
      const relationId = r.uint32();
      let marker = r.char();
      let old: TupleValue[] | undefined;
      const keyOnly = marker === 'K';
      if (marker === 'K' || marker === 'O') {
        old = r.tuple();
        marker = r.char();
      }
      return { kind: 'update', relationId, ...(old ? { old } : {}), ...(keyOnly ? { keyOnly } : {}), row: r.tuple() };
    }
    case 'D': {
      const relationId = r.uint32();
      const keyOnly = r.char() === 'K'; // 'K': the identity's columns only; 'O': the whole old row
      return { kind: 'delete', relationId, old: r.tuple(), ...(keyOnly ? { keyOnly } : {}) };
    }
    case 'T': {
      const n = r.int32();
      r.skip(1); // options
      return { kind: 'truncate', relationIds: Array.from({ length: n }, () => r.uint32()) };
    }
    default:
      // Origin, type and logical-decoding messages change no row.
      return { kind: 'other', tag };
  }
}

/** LSN text `X/Y` as a number of bytes (exact below 2^53: 8 PB of WAL). */
export function lsnBytes(lsn: string): number {
  const [hi, lo] = lsn.split('/');
  return parseInt(hi!, 16) * 2 ** 32 + parseInt(lo!, 16);
}
