// A parser for exactly what `COPY … TO STDOUT (FORMAT csv, HEADER)` prints:
// comma-separated, `"`-quoted with `""` for a quote, records ending in LF,
// NULL as an unquoted empty field and the empty string as `""`. General CSV
// libraries parse ~30k rows/s here and blur NULL with ''; this one keeps them
// apart and does one pass of charCode comparisons per record.

export type CsvRow = (string | null)[];

const QUOTE = 34;
const COMMA = 44;
const LF = 10;

export class CopyCsvParser {
  private rest = '';

  /**
   * `fields`: how many leading fields of each record to give; the rest of
   * the record is skipped without making strings (a join reads two columns
   * of a wide table: ~3× faster there).
   */
  constructor(private readonly fields = Infinity) {}

  /**
   * Parses every complete record of `rest + chunk` into `out` and keeps the
   * incomplete tail for the next call. A record split across chunks is parsed
   * again from its start once complete.
   */
  push(chunk: string, out: CsvRow[]): void {
    const text = this.rest + chunk;
    const next = { lf: -1, quote: -1 };
    let pos = 0;
    for (;;) {
      const end = parseRecord(text, pos, out, this.fields, next);
      if (end < 0) break;
      pos = end;
    }
    this.rest = text.slice(pos);
  }

  /** The input ended: anything left is a record without its final newline. */
  end(out: CsvRow[]): void {
    if (this.rest === '') return;
    const text = `${this.rest}\n`;
    this.rest = '';
    if (parseRecord(text, 0, out, this.fields, { lf: -1, quote: -1 }) !== text.length) {
      throw new Error('the CSV ends inside a quoted field (the file is truncated)');
    }
  }
}

/** Parses one record at `start` (its first `fields` fields); returns the position after its LF, or -1 if the record is incomplete. */
function parseRecord(text: string, start: number, out: CsvRow[], fields: number, next: Next): number {
  const length = text.length;
  if (start >= length) return -1;
  const row: CsvRow = [];
  let pos = start;
  for (;;) {
    if (pos >= length) return -1;
    if (text.charCodeAt(pos) === QUOTE) {
      // Quoted: runs to a quote not followed by another quote.
      let value = '';
      let from = pos + 1;
      for (;;) {
        const q = text.indexOf('"', from);
        if (q < 0 || q + 1 >= length) return -1;
        if (text.charCodeAt(q + 1) === QUOTE) {
          value += text.slice(from, q + 1);
          from = q + 2;
          continue;
        }
        value += text.slice(from, q);
        pos = q + 1;
        break;
      }
      row.push(value);
    } else {
      let i = pos;
      let c = 0;
      while (i < length && (c = text.charCodeAt(i)) !== COMMA && c !== LF) i++;
      if (i >= length) return -1;
      row.push(i === pos ? null : text.slice(pos, i));
      pos = i;
    }
    const sep = text.charCodeAt(pos);
    if (sep === COMMA && row.length === fields) {
      const end = skipRecord(text, pos + 1, next);
      if (end < 0) return -1;
      out.push(row);
      return end;
    }
    if (sep === COMMA) { pos++; continue; }
    if (sep === LF) { out.push(row); return pos + 1; }
    throw new Error(`malformed CSV: unexpected character ${JSON.stringify(text[pos])} after a quoted field`);
  }
}

/**
 * Where skipRecord last found the next LF and the next quote of one text
 * (text.length: none up to its end; -1: not searched yet). A position at or
 * after `pos` is still the next one, so each is searched for once per text: a
 * search from every record ran to the next quote, which in a table with no
 * quoted field to skip is the end of the text, record after record (at 64 KiB
 * chunks no faster than parsing every field; 200k rows in one push 10 s).
 */
interface Next { lf: number; quote: number }

/**
 * The position after the LF that ends the record whose rest starts at `pos`,
 * or -1 if incomplete. COPY quotes any field holding a quote, comma or LF, so
 * outside quoted fields the next LF ends the record and a quote starts a field.
 */
function skipRecord(text: string, pos: number, next: Next): number {
  const length = text.length;
  for (;;) {
    if (next.lf < pos) {
      const lf = text.indexOf('\n', pos);
      next.lf = lf < 0 ? length : lf;
    }
    const lf = next.lf;
    if (lf === length) return -1;
    if (next.quote < pos) {
      const quote = text.indexOf('"', pos);
      next.quote = quote < 0 ? length : quote;
    }
    const quote = next.quote;
    if (quote > lf) return lf + 1;
    // A quoted field: its end is a quote not followed by another.
    let from = quote + 1;
    for (;;) {
      const q = text.indexOf('"', from);
      if (q < 0 || q + 1 >= length) return -1;
      if (text.charCodeAt(q + 1) === QUOTE) { from = q + 2; continue; }
      pos = q + 1;
      break;
    }
  }
}
