// The COPY CSV of lib/copy-csv.ts read as bytes: each record is handed on as
// its fields' offsets into the bytes, and no field becomes a string unless its
// reader asks. The transform writes most fields' bytes straight into item
// lines (model/item.ts buildRecord): a string per field, then a string per
// line flattened and encoded again, was half of processing_jobs' transform CPU.
// Splitting bytes is safe: a UTF-8 sequence never holds an ASCII byte, so `,`,
// `"` and LF are the same bytes they are in the text.
import type { CsvRow } from './copy-csv.ts';

const QUOTE = 34;
const COMMA = 44;
const LF = 10;

/** One record: field i is NULL when starts[i] < 0, else the bytes [starts[i], ends[i]) of `buffer`, quotes included. */
export class CsvRecord {
  buffer: Buffer = Buffer.alloc(0);
  count = 0;
  starts = new Int32Array(64);
  ends = new Int32Array(64);

  /** Whether field i is quoted (its value is then the bytes inside the quotes, with `""` for a quote). */
  quoted(i: number): boolean {
    return this.buffer[this.starts[i]!] === QUOTE;
  }

  /** Field i's value as the string parser gives it: null for NULL, quotes removed, `""` read as `"`. */
  text(i: number): string | null {
    const start = this.starts[i]!;
    if (start < 0) return null;
    const end = this.ends[i]!;
    if (this.buffer[start] !== QUOTE) return this.buffer.toString('utf8', start, end);
    const inside = this.buffer.toString('utf8', start + 1, end - 1);
    return inside.includes('"') ? inside.replaceAll('""', '"') : inside;
  }

  /** Every field as a string (what CopyCsvParser gives). */
  row(): CsvRow {
    const row: CsvRow = [];
    for (let i = 0; i < this.count; i++) row.push(this.text(i));
    return row;
  }

  grow(): void {
    const starts = new Int32Array(this.starts.length * 2);
    const ends = new Int32Array(this.ends.length * 2);
    starts.set(this.starts);
    ends.set(this.ends);
    this.starts = starts;
    this.ends = ends;
  }
}

/**
 * Splits chunks of COPY CSV bytes into records. The one CsvRecord is reused:
 * its offsets hold only during the `onRecord` call that receives it.
 */
export class CsvRecords {
  private rest: Buffer | undefined;
  private readonly record = new CsvRecord();

  /**
   * Hands on every complete record of the bytes kept from the last call plus
   * `chunk`, and keeps the incomplete tail. A record split across chunks is
   * parsed again from its start once complete.
   */
  push(chunk: Buffer, onRecord: (record: CsvRecord) => void): void {
    const bytes = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      const end = this.parse(bytes, pos);
      if (end < 0) break;
      onRecord(this.record);
      pos = end;
    }
    this.rest = pos < bytes.length ? bytes.subarray(pos) : undefined;
  }

  /** The input ended: anything left is a record without its final newline. */
  end(onRecord: (record: CsvRecord) => void): void {
    if (!this.rest) return;
    const bytes = Buffer.concat([this.rest, Buffer.from([LF])]);
    this.rest = undefined;
    if (this.parse(bytes, 0) !== bytes.length) throw new Error('the CSV ends inside a quoted field (the file is truncated)');
    onRecord(this.record);
  }

  /** Parses the record at `start` into this.record; returns the position after its LF, or -1 if it is incomplete. */
  private parse(bytes: Buffer, start: number): number {
    const length = bytes.length;
    if (start >= length) return -1;
    const record = this.record;
    let pos = start;
    let field = 0;
    for (;;) {
      if (pos >= length) return -1;
      if (field === record.starts.length) record.grow();
      if (bytes[pos] === QUOTE) {
        // Quoted: runs to a quote not followed by another quote.
        let from = pos + 1;
        for (;;) {
          const q = bytes.indexOf(QUOTE, from);
          if (q < 0 || q + 1 >= length) return -1;
          if (bytes[q + 1] === QUOTE) { from = q + 2; continue; }
          record.starts[field] = pos;
          record.ends[field] = q + 1;
          pos = q + 1;
          break;
        }
      } else {
        let i = pos;
        let c = 0;
        while (i < length && (c = bytes[i]!) !== COMMA && c !== LF) i++;
        if (i >= length) return -1;
        record.starts[field] = i === pos ? -1 : pos;
        record.ends[field] = i;
        pos = i;
      }
      field++;
      const sep = bytes[pos];
      if (sep === COMMA) { pos++; continue; }
      if (sep === LF) {
        record.buffer = bytes;
        record.count = field;
        return pos + 1;
      }
      const character = bytes.toString('utf8', pos, Math.min(pos + 4, length)).slice(0, 1);
      throw new Error(`malformed CSV: unexpected character ${JSON.stringify(character)} after a quoted field`);
    }
  }
}
