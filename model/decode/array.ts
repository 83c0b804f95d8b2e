// Arrays print as `{a,b}`, `{}`, `{{1,2},{3,4}}` (array_out). An element is
// double-quoted, with `\"` and `\\` escaped, when it is empty, contains a
// brace, the delimiter, a quote, a backslash or whitespace, or is the word
// NULL in any case; an unquoted NULL is the SQL NULL element. Each array level
// becomes an L, each element is decoded by its type's decoder.
//
// An array whose lower bound is not 1 prints its bounds first, `[0:1]={1,2}`:
// an L cannot say that, so the whole text stays S, with a warning.
import type { AttributeValue, Decoder, Warn } from '../attribute.ts';
import { MAX_CONTAINER_LEVEL } from '../dynamodb-limits.ts';

const QUOTE = 34;
const LBRACKET = 91;
const BACKSLASH = 92;
const LBRACE = 123;
const RBRACE = 125;

/**
 * `elementDecoderAt(level)`: the element type's decoder for an element at that
 * DynamoDB level; `depth`: the level of the array itself; `delimiter`: `,`
 * (`;` for box).
 */
export function arrayDecoder(elementDecoderAt: (level: number) => Decoder, depth: number, delimiter = ','): Decoder {
  // Elements of a 2-D array sit one level deeper than those of a 1-D one, so
  // the decoder is chosen per level, once.
  const byLevel: Decoder[] = [];
  const decoderAt = (level: number): Decoder => (byLevel[level] ??= elementDecoderAt(level));
  const delimiterCode = delimiter.charCodeAt(0);
  return (text, warn) => {
    if (text.charCodeAt(0) === LBRACKET) {
      warn('array with explicit bounds ([lower:upper]={…}) kept as S');
      return { S: text };
    }
    // array_out nests uniformly, so the leading braces count the dimensions.
    let dimensions = 0;
    while (text.charCodeAt(dimensions) === LBRACE) dimensions++;
    if (dimensions === 0) throw new Error(`array: expected '{' at character 1 of ${text.length}`);
    if (depth + dimensions - 1 > MAX_CONTAINER_LEVEL) {
      warn("array nests deeper than DynamoDB's 32 levels: kept as S");
      return { S: text };
    }
    const reader = new ArrayReader(text, delimiterCode, dimensions, depth, decoderAt, warn);
    const value = reader.readArray(1);
    reader.skipSpace();
    if (reader.pos !== text.length) throw reader.error('unexpected text after the array');
    return value;
  };
}

class ArrayReader {
  pos = 0;

  constructor(
    private readonly text: string,
    private readonly delimiter: number,
    private readonly dimensions: number,
    private readonly depth: number,
    private readonly decoderAt: (level: number) => Decoder,
    private readonly warn: Warn,
  ) {}

  /** The array at `dimension` (1 = outermost), starting at its `{`. */
  readArray(dimension: number): AttributeValue {
    const items: AttributeValue[] = [];
    if (this.text.charCodeAt(this.pos) !== LBRACE) throw this.error("expected '{'");
    this.pos++;
    if (this.skipSpace() === RBRACE) {
      this.pos++;
      return { L: items };
    }
    const innermost = dimension === this.dimensions;
    const elementLevel = this.depth + dimension;
    for (;;) {
      const c = this.skipSpace();
      if (innermost) {
        if (c === LBRACE) throw this.error('sub-array deeper than the first one');
        items.push(this.readElement(elementLevel));
      } else {
        if (c !== LBRACE) throw this.error("expected '{' (all sub-arrays have the same dimensions)");
        items.push(this.readArray(dimension + 1));
      }
      const next = this.skipSpace();
      if (next !== this.delimiter && next !== RBRACE) throw this.error("expected the delimiter or '}'");
      this.pos++;
      if (next === RBRACE) return { L: items };
    }
  }

  private readElement(level: number): AttributeValue {
    const text = this.text;
    const end = text.length;
    let i = this.pos;
    if (text.charCodeAt(i) === QUOTE) {
      // Quoted: taken literally up to the closing quote, a backslash escaping the next character.
      const start = ++i;
      let c = text.charCodeAt(i);
      while (i < end && c !== QUOTE && c !== BACKSLASH) c = text.charCodeAt(++i);
      let element = text.slice(start, i);
      while (c === BACKSLASH) {
        if (i + 1 >= end) {
          i = end;
          break;
        }
        element += text[i + 1];
        const from = (i += 2);
        c = text.charCodeAt(i);
        while (i < end && c !== QUOTE && c !== BACKSLASH) c = text.charCodeAt(++i);
        element += text.slice(from, i);
      }
      if (i >= end) throw this.at(i, 'unterminated quoted element');
      this.pos = i + 1;
      return this.decoderAt(level)(element, this.warn);
    }

    // Unquoted: up to the delimiter or '}', trailing whitespace dropped (as array_in does).
    const start = i;
    let c = text.charCodeAt(i);
    while (i < end && c !== this.delimiter && c !== RBRACE && c !== BACKSLASH && c !== QUOTE && c !== LBRACE && !isSpace(c)) {
      c = text.charCodeAt(++i);
    }
    let element = text.slice(start, i);
    let escaped = false;
    if (i < end && c !== this.delimiter && c !== RBRACE) {
      // The rare slow path: escapes or inner whitespace (array_out would have quoted either).
      let kept = element.length; // length without trailing unescaped whitespace
      for (; i < end; c = text.charCodeAt(++i)) {
        if (c === this.delimiter || c === RBRACE) break;
        if (c === QUOTE || c === LBRACE) throw this.at(i, 'unexpected character in an unquoted element');
        if (c === BACKSLASH) {
          if (i + 1 >= end) throw this.at(i, 'unterminated escape');
          element += text[++i];
          kept = element.length;
          escaped = true;
        } else {
          element += text[i];
          if (!isSpace(c)) kept = element.length;
        }
      }
      element = element.slice(0, kept);
    }
    if (i >= end) throw this.at(i, "expected the delimiter or '}'");
    this.pos = i;
    if (element.length === 0) throw this.at(i, 'empty unquoted element');
    if (!escaped && element.length === 4 && element.toUpperCase() === 'NULL') return { NULL: true };
    return this.decoderAt(level)(element, this.warn);
  }

  /** Skips whitespace (array_in's isspace); returns the next character code. */
  skipSpace(): number {
    let c = this.text.charCodeAt(this.pos);
    while (isSpace(c)) c = this.text.charCodeAt(++this.pos);
    return c;
  }

  error(what: string): Error {
    return new Error(`array: ${what} at character ${this.pos + 1} of ${this.text.length}`);
  }

  private at(index: number, what: string): Error {
    this.pos = index;
    return this.error(what);
  }
}

/** ' ', \t, \n, \v, \f, \r: what PostgreSQL's array_in skips. */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}
