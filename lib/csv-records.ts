// The toolkit's one parser for exactly what `COPY … TO STDOUT (FORMAT csv,
// HEADER)` prints: comma-separated, `"`-quoted with `""` for a quote, records
// ending in LF, NULL as an unquoted empty field and the empty string as `""`
// (general CSV libraries parse ~30k rows/s here and blur NULL with '').
// It reads bytes: each record is handed on as its fields' offsets into the
// bytes, and no field becomes a string unless its reader asks. The transform
// writes most fields' bytes straight into item lines (model/item.ts
// buildRecord): a string per field, then a string per line flattened and
// encoded again, was a third of processing_jobs' transform CPU. A quoted
// field's offsets include its quotes (its value is the bytes inside them,
// `""` for a quote).
// Splitting bytes is safe: a UTF-8 sequence never holds an ASCII byte, so `,`,
// `"` and LF are the same bytes they are in the text.

/** A record's fields as strings: null for NULL. */
export type CsvRow = (string | null)[];

const QUOTE = 34;
const COMMA = 44;
const LF = 10;

/** One record: field i is NULL when starts[i] < 0, else the bytes [starts[i], ends[i]) of `buffer`, quotes included. */
export class CsvRecord {
  buffer: Buffer = Buffer.alloc(0);
  count = 0;
  starts = new Int32Array(64);
  ends = new Int32Array(64);

  /** Field i's value: null for NULL, quotes removed, `""` read as `"`. */
  text(i: number): string | null {
    const start = this.starts[i]!;
    if (start < 0) return null;
    const end = this.ends[i]!;
    if (this.buffer[start] !== QUOTE) return this.buffer.toString('utf8', start, end);
    const inside = this.buffer.toString('utf8', start + 1, end - 1);
    return inside.includes('"') ? inside.replaceAll('""', '"') : inside;
  }

  /** Every field as a string. */
  row(): CsvRow {
    const row: CsvRow = [];
    for (let i = 0; i < this.count; i++) row.push(this.text(i));
    return row;
  }

  grow(): void {
    this.starts = doubled(this.starts);
    this.ends = doubled(this.ends);
  }
}

/**
 * The complete records of one push as bytes and offsets (CsvRecords.pushParsed):
 * record r's fields are [firsts[r], lasts[r]) of starts/ends, offsets into
 * `bytes` as CsvRecord's; the records are bytes [0, recordEnds[count - 1]).
 * Views of the parser's own arrays, valid only during the call that gets them.
 */
export interface ParsedRecords {
  bytes: Buffer;
  count: number;
  firsts: Int32Array;
  lasts: Int32Array;
  recordEnds: Int32Array;
  starts: Int32Array;
  ends: Int32Array;
}

/** Hands on each record of `parsed` through `record` (reused: its offsets hold only during the call). */
export function eachRecord(parsed: ParsedRecords, record: CsvRecord, onRecord: (record: CsvRecord) => void): void {
  record.buffer = parsed.bytes;
  for (let r = 0; r < parsed.count; r++) {
    const first = parsed.firsts[r]!;
    const n = parsed.lasts[r]! - first;
    while (record.starts.length < n) record.grow();
    for (let k = 0; k < n; k++) {
      record.starts[k] = parsed.starts[first + k]!;
      record.ends[k] = parsed.ends[first + k]!;
    }
    record.count = n;
    onRecord(record);
  }
}

/** `parsed` in buffers of its own (each its whole ArrayBuffer, so a postMessage can transfer them): valid after the call. */
export function copyParsed(parsed: ParsedRecords): ParsedRecords {
  const { count } = parsed;
  const length = count === 0 ? 0 : parsed.recordEnds[count - 1]!;
  const from = count === 0 ? 0 : parsed.firsts[0]!;
  const to = count === 0 ? 0 : parsed.lasts[count - 1]!;
  const bytes = Buffer.from(new ArrayBuffer(length));
  parsed.bytes.copy(bytes, 0, 0, length);
  const shifted = (a: Int32Array) => a.slice(0, count).map((i) => i - from);
  return {
    bytes, count, firsts: shifted(parsed.firsts), lasts: shifted(parsed.lasts), recordEnds: parsed.recordEnds.slice(0, count),
    starts: parsed.starts.slice(from, to), ends: parsed.ends.slice(from, to),
  };
}

/** What the field being read when a push's bytes ran out was doing (CsvRecords' resume state). */
const START = 0;
const PLAIN = 1;
const QUOTED = 2;

/**
 * Splits chunks of COPY CSV bytes into records. The one CsvRecord is reused:
 * its offsets hold only during the `onRecord` call that receives it.
 *
 * Every complete record of a push is parsed before any is handed on, so a
 * malformed record fails the push before an earlier record of it reaches
 * `onRecord` (whose caller may fail on that record first, with another
 * error). A record not complete at the end of a push is kept with how far it
 * was read, and reading resumes there: a record far longer than a chunk is
 * read once, not again from its start at every chunk.
 */
export class CsvRecords {
  /** The incomplete record's bytes, at [0, pendingLength) (capacity beyond). */
  private pending = Buffer.alloc(0);
  private pendingLength = 0;
  private readonly record = new CsvRecord();
  /** The fields read in one push, as absolute offsets; the incomplete record's first ones carried over at [0, fields). */
  private starts = new Int32Array(1024);
  private ends = new Int32Array(1024);
  /** Per complete record of the push: its fields' [first, last) in starts/ends, and the position after its LF. */
  private firsts = new Int32Array(64);
  private lasts = new Int32Array(64);
  private recordEnds = new Int32Array(64);
  /** The incomplete record: fields read, where its current field starts, what that field's reading was doing, and where it resumes. */
  private fields = 0;
  private fieldAt = 0;
  private mode = START;
  private resumeAt = 0;

  /**
   * Hands on every complete record of the bytes kept from the last call plus
   * `chunk`, and keeps the incomplete tail.
   */
  push(chunk: Buffer, onRecord: (record: CsvRecord) => void): void {
    this.pushParsed(chunk, (parsed) => eachRecord(parsed, this.record, onRecord));
  }

  /** The input ended: anything left is a record without its final newline. */
  end(onRecord: (record: CsvRecord) => void): void {
    this.endParsed((parsed) => eachRecord(parsed, this.record, onRecord));
  }

  /** As push, handing on the push's complete records at once (none: not called). */
  pushParsed(chunk: Buffer, onParsed: (parsed: ParsedRecords) => void): void {
    let bytes = chunk;
    if (this.pendingLength > 0) {
      this.reservePending(this.pendingLength + chunk.length);
      this.pendingLength += chunk.copy(this.pending, this.pendingLength);
      bytes = this.pending.subarray(0, this.pendingLength);
    }
    const count = this.read(bytes);
    if (count > 0) onParsed(this.parsed(bytes, count));
    this.keep(bytes, count === 0 ? 0 : this.recordEnds[count - 1]!, bytes !== chunk);
  }

  /** As end, for pushParsed. */
  endParsed(onParsed: (parsed: ParsedRecords) => void): void {
    if (this.pendingLength === 0) return;
    this.reservePending(this.pendingLength + 1);
    this.pending[this.pendingLength++] = LF;
    const bytes = this.pending.subarray(0, this.pendingLength);
    const count = this.read(bytes);
    this.reset();
    if (count !== 1 || this.recordEnds[0] !== bytes.length) throw new Error('the CSV ends inside a quoted field (the file is truncated)');
    onParsed(this.parsed(bytes, count));
  }

  private parsed(bytes: Buffer, count: number): ParsedRecords {
    return { bytes, count, firsts: this.firsts, lasts: this.lasts, recordEnds: this.recordEnds, starts: this.starts, ends: this.ends };
  }

  private reset(): void {
    this.pendingLength = 0;
    this.fields = 0;
    this.fieldAt = 0;
    this.mode = START;
    this.resumeAt = 0;
  }

  private reservePending(bytes: number): void {
    if (bytes <= this.pending.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(bytes, this.pending.length * 2, 64 * 1024));
    this.pending.copy(bigger, 0, 0, this.pendingLength);
    this.pending = bigger;
  }

  /** Keeps bytes [tail, end) of `bytes` (`pending`'s own when inPending), the incomplete record, at the start of `pending`, its offsets made relative to it. */
  private keep(bytes: Buffer, tail: number, inPending: boolean): void {
    const rest = bytes.length - tail;
    if (rest === 0) {
      this.reset();
      return;
    }
    if (inPending) {
      if (tail > 0) this.pending.copyWithin(0, tail, bytes.length);
      // A buffer grown for one long record is not kept for the short ones after it.
      if (this.pending.length > 16 * 1024 * 1024 && rest * 4 < this.pending.length) {
        const smaller = Buffer.allocUnsafe(Math.max(rest * 2, 64 * 1024));
        this.pending.copy(smaller, 0, 0, rest);
        this.pending = smaller;
      }
    } else {
      this.pendingLength = 0;
      this.reservePending(rest);
      bytes.copy(this.pending, 0, tail);
    }
    this.pendingLength = rest;
    const first = this.lastFirst;
    for (let k = 0; k < this.fields; k++) {
      const start = this.starts[first + k]!;
      this.starts[k] = start < 0 ? start : start - tail;
      this.ends[k] = this.ends[first + k]! - tail;
    }
    this.fieldAt -= tail;
    this.resumeAt -= tail;
  }

  /** Where the incomplete record's fields start in starts/ends after read. */
  private lastFirst = 0;
  /** Bytes the searches for a field's end went over, summed: about each byte once, however long a record (a test reads it). */
  scanned = 0;

  /**
   * Reads the complete records of `bytes` (resuming the one kept, which
   * starts at 0) into starts/ends, firsts/lasts and recordEnds; returns their
   * count and leaves the incomplete one's state. Throws on a malformed record.
   */
  private read(bytes: Buffer): number {
    const length = bytes.length;
    let count = 0;
    let first = 0;
    let k = this.fields;
    let at = this.fieldAt;
    let mode = this.mode;
    let from = this.resumeAt;
    let starts = this.starts;
    let ends = this.ends;
    let scanned = 0;
    for (;;) {
      if (mode === START) {
        if (at >= length) break;
        if (bytes[at] === QUOTE) { mode = QUOTED; from = at + 1; } else { mode = PLAIN; from = at; }
      }
      let end: number;
      let start = at;
      if (mode === QUOTED) {
        // Quoted: runs to a quote not followed by another quote.
        let q = -1;
        for (;;) {
          q = bytes.indexOf(QUOTE, from);
          scanned += (q < 0 ? length : q + 1) - from;
          if (q < 0) { from = length; break; }
          if (q + 1 >= length) { from = q; q = -1; break; }
          if (bytes[q + 1] === QUOTE) { from = q + 2; continue; }
          break;
        }
        if (q < 0) break;
        end = q + 1;
        const sep = bytes[end]!;
        if (sep !== COMMA && sep !== LF) {
          // The error names the character whole, however the chunks cut it: wait for its bytes.
          if (incompleteCharacter(bytes, end)) { from = q; break; }
          // Its whole code point: one UTF-16 unit of a character past U+FFFF is half of it (a lone surrogate).
          const character = String.fromCodePoint(bytes.toString('utf8', end, Math.min(end + 4, length)).codePointAt(0)!);
          throw new Error(`malformed CSV: unexpected character ${JSON.stringify(character)} after a quoted field`);
        }
      } else {
        let i = from;
        let c = 0;
        while (i < length && (c = bytes[i]!) !== COMMA && c !== LF) i++;
        scanned += i - from;
        if (i >= length) { from = i; break; }
        end = i;
        if (i === at) start = -1;
      }
      if (k === starts.length) {
        this.growFields();
        starts = this.starts;
        ends = this.ends;
      }
      starts[k] = start;
      ends[k] = end;
      k++;
      mode = START;
      at = end + 1;
      if (bytes[end] === LF) {
        if (count === this.firsts.length) this.growRecords();
        this.firsts[count] = first;
        this.lasts[count] = k;
        this.recordEnds[count] = at;
        count++;
        first = k;
      }
    }
    this.scanned += scanned;
    this.lastFirst = first;
    this.fields = k - first;
    this.fieldAt = at;
    this.mode = mode;
    this.resumeAt = from;
    return count;
  }

  private growFields(): void {
    this.starts = doubled(this.starts);
    this.ends = doubled(this.ends);
  }

  private growRecords(): void {
    this.firsts = doubled(this.firsts);
    this.lasts = doubled(this.lasts);
    this.recordEnds = doubled(this.recordEnds);
  }
}

/** A copy of `from` in an array twice its length. */
function doubled(from: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const to = new Int32Array(from.length * 2);
  to.set(from);
  return to;
}

/**
 * Whether the byte at `at` starts a UTF-8 sequence whose bytes run past the
 * end of `bytes` (every byte after it so far a continuation byte), as a
 * StringDecoder would hold them back until the next chunk.
 */
function incompleteCharacter(bytes: Buffer, at: number): boolean {
  const lead = bytes[at]!;
  // As StringDecoder counts: 0xF8 and above start nothing, so are never held back.
  const size = lead >= 0xf8 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  if (at + size <= bytes.length) return false;
  for (let i = at + 1; i < bytes.length; i++) if ((bytes[i]! & 0xc0) !== 0x80) return false;
  return true;
}
