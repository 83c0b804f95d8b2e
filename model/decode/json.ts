// json and jsonb become DynamoDB documents: object → M, array → L, string → S,
// number → N, true/false → BOOL, null → NULL.
//
// Why a parser of our own and not JSON.parse: numbers must keep their literal
// digits (9007199254740993 is not a double), and duplicate keys must be seen
// (the json type keeps them; JSON.parse keeps the last one silently).
//
// A value DynamoDB cannot hold becomes the whole json text as S, with one
// warning: a map or list nested past DynamoDB's limit, an empty object key (or
// one over 50,000 bytes), duplicate keys, a number out of DynamoDB's range or
// precision, or a `\uD800`-style escape that is half a surrogate pair (the
// json type accepts it; it is not a character, so no UTF-8 string holds it).
// Text that is not JSON throws: PostgreSQL never prints it.
//
// The parser is iterative (an explicit stack), so a document nested thousands
// deep, which PostgreSQL allows, cannot overflow the call stack.
import type { AttributeValue, Decoder } from '../attribute.ts';
import { MAX_CONTAINER_LEVEL, MAX_KEY_BYTES, numberProblem } from '../dynamodb-limits.ts';

/** `depth`: the DynamoDB level the json's top-level value sits at (a column in `data` is at 2). */
export function jsonDecoder(depth: number): Decoder {
  return (text, warn) => {
    const reader = new JsonReader(text, depth);
    const value = reader.read();
    if (reader.problem !== undefined) {
      warn(`json ${reader.problem}: whole value kept as S`);
      return { S: text };
    }
    return value;
  };
}

const TAB = 9;
const LF = 10;
const CR = 13;
const SPACE = 32;
const QUOTE = 34;
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const SLASH = 47;
const DIGIT_0 = 48;
const DIGIT_1 = 49;
const DIGIT_9 = 57;
const COLON = 58;
const UPPER_E = 69;
const LBRACKET = 91;
const BACKSLASH = 92;
const RBRACKET = 93;
const LOWER_E = 101;
const LOWER_F = 102;
const LOWER_N = 110;
const LOWER_T = 116;
const LOWER_U = 117;
const LBRACE = 123;
const RBRACE = 125;
const END = -1;

/** An open container: `list` for an array, `map` and the pending member's `key` for an object. */
interface Frame {
  list: AttributeValue[] | null;
  map: Record<string, AttributeValue> | null;
  key: string;
}

class JsonReader {
  /** Why DynamoDB cannot hold this document (the first reason found), if it cannot. */
  problem: string | undefined;
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly level: number,
  ) {}

  read(): AttributeValue {
    const stack: Frame[] = [];
    let value: AttributeValue;
    for (;;) {
      // A value starts here.
      const c = this.skipSpace();
      if (c === LBRACE || c === LBRACKET) {
        if (this.level + stack.length > MAX_CONTAINER_LEVEL) this.fail("nests deeper than DynamoDB's 32 levels");
        this.pos++;
        const next = this.skipSpace();
        if (c === LBRACE) {
          const map: Record<string, AttributeValue> = Object.create(null);
          if (next === RBRACE) {
            this.pos++;
            value = { M: map };
          } else {
            stack.push({ list: null, map, key: this.readKey() });
            continue;
          }
        } else if (next === RBRACKET) {
          this.pos++;
          value = { L: [] };
        } else {
          stack.push({ list: [], map: null, key: '' });
          continue;
        }
      } else if (c === QUOTE) {
        value = { S: this.readString() };
      } else if (c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9)) {
        value = { N: this.readNumber() };
      } else if (c === LOWER_T && this.text.startsWith('true', this.pos)) {
        this.pos += 4;
        value = { BOOL: true };
      } else if (c === LOWER_F && this.text.startsWith('false', this.pos)) {
        this.pos += 5;
        value = { BOOL: false };
      } else if (c === LOWER_N && this.text.startsWith('null', this.pos)) {
        this.pos += 4;
        value = { NULL: true };
      } else {
        throw this.error('expected a JSON value');
      }

      // The value is complete: add it to its container, closing every container that ends after it.
      for (;;) {
        const frame = stack[stack.length - 1];
        const next = this.skipSpace();
        if (frame === undefined) {
          if (next !== END) throw this.error('unexpected text after the JSON value');
          return value;
        }
        if (frame.list !== null) {
          frame.list.push(value);
          if (next === COMMA) {
            this.pos++;
            break;
          }
          if (next !== RBRACKET) throw this.error("expected ',' or ']'");
          this.pos++;
          stack.pop();
          value = { L: frame.list };
        } else {
          const map = frame.map!;
          if (frame.key in map) this.fail('has an object with duplicate keys');
          map[frame.key] = value;
          if (next === COMMA) {
            this.pos++;
            this.skipSpace();
            frame.key = this.readKey();
            break;
          }
          if (next !== RBRACE) throw this.error("expected ',' or '}'");
          this.pos++;
          stack.pop();
          value = { M: map };
        }
      }
    }
  }

  private fail(reason: string): void {
    this.problem ??= reason;
  }

  private error(what: string): Error {
    return new Error(`json: ${what} at character ${this.pos + 1} of ${this.text.length}`);
  }

  /** Skips JSON whitespace; returns the next character code, or END. */
  private skipSpace(): number {
    const text = this.text;
    let i = this.pos;
    let c = text.charCodeAt(i);
    while (c === SPACE || c === LF || c === CR || c === TAB) c = text.charCodeAt(++i);
    this.pos = i;
    return i < text.length ? c : END;
  }

  /** An object member's `"key" :`, leaving the position at its value. */
  private readKey(): string {
    if (this.text.charCodeAt(this.pos) !== QUOTE) throw this.error('expected an object key');
    const key = this.readString();
    if (key === '') this.fail('has an empty object key');
    else if (key.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
      this.fail('has an object key over 50,000 bytes');
    }
    if (this.skipSpace() !== COLON) throw this.error("expected ':'");
    this.pos++;
    return key;
  }

  /** A string starting at the opening quote; escapes decoded. */
  private readString(): string {
    const text = this.text;
    const end = text.length;
    const start = this.pos + 1;
    let i = start;
    // Most strings have no escapes: one slice.
    for (; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        this.pos = i + 1;
        return text.slice(start, i);
      }
      if (c === BACKSLASH) break;
      if (c < SPACE) throw this.at(i, 'control character not escaped in a string');
    }
    let out = text.slice(start, i);
    for (;;) {
      if (i >= end) throw this.at(i, 'unterminated string');
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        this.pos = i + 1;
        return out;
      }
      if (c !== BACKSLASH) {
        let j = i + 1;
        for (; j < end; j++) {
          const d = text.charCodeAt(j);
          if (d === QUOTE || d === BACKSLASH || d < SPACE) break;
        }
        if (c < SPACE) throw this.at(i, 'control character not escaped in a string');
        out += text.slice(i, j);
        i = j;
        continue;
      }
      const escape = text.charCodeAt(i + 1);
      switch (escape) {
        case QUOTE: out += '"'; break;
        case BACKSLASH: out += '\\'; break;
        case SLASH: out += '/'; break;
        case 98 /* b */: out += '\b'; break;
        case LOWER_F: out += '\f'; break;
        case LOWER_N: out += '\n'; break;
        case 114 /* r */: out += '\r'; break;
        case LOWER_T: out += '\t'; break;
        case LOWER_U: {
          const unit = hex4(text, i + 2);
          if (unit < 0) throw this.at(i, 'invalid \\u escape');
          if (unit >= 0xd800 && unit <= 0xdbff) {
            const low = text.charCodeAt(i + 6) === BACKSLASH && text.charCodeAt(i + 7) === LOWER_U ? hex4(text, i + 8) : -1;
            if (low >= 0xdc00 && low <= 0xdfff) {
              out += String.fromCharCode(unit, low);
              i += 12;
              continue;
            }
            this.fail('has half a surrogate pair in a \\u escape');
          } else if (unit >= 0xdc00 && unit <= 0xdfff) {
            this.fail('has half a surrogate pair in a \\u escape');
          }
          out += String.fromCharCode(unit);
          i += 6;
          continue;
        }
        default:
          throw this.at(i, 'invalid escape in a string');
      }
      i += 2;
    }
  }

  /** A number's literal text, exactly as written (checked against DynamoDB's limits). */
  private readNumber(): string {
    const text = this.text;
    const start = this.pos;
    let i = start;
    if (text.charCodeAt(i) === MINUS) i++;
    let c = text.charCodeAt(i);
    if (c === DIGIT_0) {
      c = text.charCodeAt(++i);
    } else if (c >= DIGIT_1 && c <= DIGIT_9) {
      do c = text.charCodeAt(++i);
      while (c >= DIGIT_0 && c <= DIGIT_9);
    } else {
      throw this.at(i, 'invalid number');
    }
    if (c === DOT) {
      c = text.charCodeAt(++i);
      if (!(c >= DIGIT_0 && c <= DIGIT_9)) throw this.at(i, 'invalid number');
      do c = text.charCodeAt(++i);
      while (c >= DIGIT_0 && c <= DIGIT_9);
    }
    if (c === LOWER_E || c === UPPER_E) {
      c = text.charCodeAt(++i);
      if (c === PLUS || c === MINUS) c = text.charCodeAt(++i);
      if (!(c >= DIGIT_0 && c <= DIGIT_9)) throw this.at(i, 'invalid number');
      do c = text.charCodeAt(++i);
      while (c >= DIGIT_0 && c <= DIGIT_9);
    }
    this.pos = i;
    const literal = text.slice(start, i);
    const problem = numberProblem(literal);
    if (problem !== undefined) this.fail(`has a number with ${problem}`);
    return literal;
  }

  private at(index: number, what: string): Error {
    this.pos = index;
    return this.error(what);
  }
}

/** The value of four hex digits at `at`, or -1. */
function hex4(text: string, at: number): number {
  let value = 0;
  for (let i = at; i < at + 4; i++) {
    const c = text.charCodeAt(i);
    let digit: number;
    if (c >= DIGIT_0 && c <= DIGIT_9) digit = c - DIGIT_0;
    else if (c >= 97 && c <= 102) digit = c - 87; // a-f
    else if (c >= 65 && c <= 70) digit = c - 55; // A-F
    else return -1;
    value = value * 16 + digit;
  }
  return value;
}
