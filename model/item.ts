// One source row → one DynamoDB JSON line, `{"Item":{…}}`, with attributes in
// the canonical order (the key attributes as model/table.ts orders them: PK,
// SK, GSI1PK, GSI1SK, GSI2PK, GSI2SK; then entity_type, data, created_at,
// updated_at, ttl; `data` keys in column order) so that item
// files diff well. Rows that cannot become a valid item become rejects.
import type { ColumnSchema, TableEntry } from '../lib/manifest.ts';
import type { CsvRow } from '../lib/csv-records.ts';
import type { ByteBuffer } from '../lib/byte-buffer.ts';
import type { CsvRecord } from '../lib/csv-records.ts';
import { CLOSE_BRACE, COMMA, DATA_CLOSE, ITEM_OPEN, KEY_CLOSE, KEY_OPEN, LINE_CLOSE, QUOTE, STAMP_CLOSE, TTL_OPEN, VALUE_CLOSE, copyInteger, copyText, copyTimestamp, integerSize, putBytes, putConstant, putString, timestampSeconds } from './item-bytes.ts';
import type { AttributeValue } from './attribute.ts';
import { canonicalTimestamp, decoderFor, type Decoder } from './decode/index.ts';
import { MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES } from './dynamodb-limits.ts';
import { decodeInteger } from './decode/integer.ts';
import { decodeText } from './decode/text.ts';
import { decodeTimestamp, decodeTimestamptz, utcSeconds } from './decode/timestamp.ts';
import { MAX_ITEM_BYTES, attributeSize, numberSize } from './item-size.ts';
import type { Mapper, RowValues } from './entity.ts';
import { INDEXES, KEY_ATTRIBUTES, PRIMARY_KEY } from './table.ts';

/** What a join answers: the run's index file in transform, the rows of a change batch and the source in catchup. */
export interface JoinLookup {
  has(key: string): boolean;
  get(key: string): string | null | undefined;
}
import { compileTemplate, type CompiledTemplate } from './template.ts';

export interface Reject {
  table: string;
  /** 1-based data row of the extract part (the header is row 0). */
  row: number;
  primary_key: Record<string, string | null>;
  column: string | null;
  reason: string;
  /** A key over DynamoDB's size: the key attribute, its UTF-8 bytes and the limit (never its text). */
  attribute?: string;
  bytes?: number;
  limit?: number;
}

/** An item whose line was written elsewhere (buildRecord). */
export interface ItemKeys {
  pk: string;
  sk: string;
  /** Size by DynamoDB's rules. */
  size: number;
  /** Epoch seconds, when the mapper names a ttl column and the row has a finite value. */
  ttl?: number;
}

export interface Item extends ItemKeys {
  line: string;
}

/** How a column's data value is written: see `kinds`. */
const TEXT = 0;
const INTEGER = 1;
const TIMESTAMP = 2;
const OTHER = 3;
type Kind = typeof TEXT | typeof INTEGER | typeof TIMESTAMP | typeof OTHER;

interface KeyTemplate {
  /** The key attribute (`PK`, `GSI1SK`, …). */
  name: string;
  template: CompiledTemplate;
  gsi: boolean;
  /** DynamoDB's limit on this key attribute's value, in UTF-8 bytes. */
  limit: number;
}

function isTimestamp(column: ColumnSchema): boolean {
  const type = column.base_type ?? column.type;
  return type.startsWith('timestamp');
}

/** What a ttl column may be: one whose every finite value epochSeconds reads. */
function holdsInstant(column: ColumnSchema): boolean {
  // As the decoders name types, whole: a type of one's own named `timestamp_kind` or `timestamprange` is no instant.
  const decoder = decoderFor(column);
  return decoder === decodeTimestamptz || decoder === decodeTimestamp || /^(pg_catalog\.)?date$/.test((column.base_type ?? column.type).trim());
}

/** Epoch seconds (floor) of a canonical timestamp or a date; undefined for infinity, BC or odd forms. */
export function epochSeconds(text: string): number | undefined {
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d):(\d\d)(?:\.\d+)?Z?)?$/.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0'] = m;
  // The fraction is non-negative, so flooring drops it even before 1970.
  return utcSeconds(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s));
}

export class ItemBuilder {
  private readonly index = new Map<string, number>();
  private readonly decoders: Decoder[];
  /** Per column, the decoders whose JSON and size are written inline (no attribute object, no generic walk). */
  private readonly kinds: Kind[];
  private readonly keyText: ((text: string) => string)[];
  private readonly templates: KeyTemplate[] = [];
  private readonly dataNames: string[];
  /** Per column, what buildRecord writes before a value it copies: the name and the value's opening, `"name":{"S":"`. */
  private readonly openBytes: Buffer[];
  /** Per column, whether a timestamp is timestamptz (printed with `+00`, canonical with `Z`). */
  private readonly zoned: boolean[];
  private row: CsvRow = [];
  /** The row as bytes (buildRecord), read instead of `row` while set. */
  private record: CsvRecord | undefined;
  /** The size by DynamoDB's rules of the item being built. */
  private size = 0;
  /** What templates see: joins, computed values, then columns. */
  private readonly values: RowValues;
  /** What computed values see: columns only (a computed `email_hash` reads the column of that name). */
  private readonly columnValues: RowValues;

  /** Per column: its warning callback and its name's UTF-8 length, made once, not per row. */
  private readonly warners: ((reason: string) => void)[];
  private readonly nameBytes: number[];
  /** Columns feeding the top-level created_at / updated_at (index, or -1 when the table has none). */
  private readonly stamps: [attribute: string, index: number][];
  /** buildRecord's: each stamp with its opening bytes, `,"created_at":{"S":"`. */
  private readonly stampBytes: [attribute: string, index: number, open: Buffer][];
  /** buildRecord's: entity_type and data's opening, as bytes. */
  private readonly entityBytes: Buffer;
  /** The ttl column's index, or -1. */
  private readonly ttlIndex: number;
  /** entity_type and data's own bytes: the entity type counts in UTF-8 (a model may name it in any script). */
  private readonly fixedBytes: number;

  constructor(
    private readonly mapper: Mapper,
    private readonly table: TableEntry,
    private readonly joins: Map<string, JoinLookup>,
    onWarning: (column: string, reason: string) => void = () => {},
  ) {
    table.columns.forEach((c, i) => this.index.set(c.name, i));
    this.decoders = table.columns.map((c) => decoderFor(c, 2));
    // TIMESTAMP only where the key text is canonicalTimestamp too, so the decoded text can stand for it.
    this.kinds = this.decoders.map((d, i) => (d === decodeText ? TEXT : d === decodeInteger ? INTEGER
      : (d === decodeTimestamptz || d === decodeTimestamp) && isTimestamp(table.columns[i]!) ? TIMESTAMP : OTHER));
    this.warners = table.columns.map((c) => (reason: string) => onWarning(c.name, reason));
    this.nameBytes = table.columns.map((c) => Buffer.byteLength(c.name, 'utf8'));
    this.keyText = table.columns.map((c) => (isTimestamp(c) ? canonicalTimestamp : (t: string) => t));
    this.dataNames = table.columns.map((c) => JSON.stringify(c.name));
    this.openBytes = this.kinds.map((kind, i) => Buffer.from(`${this.dataNames[i]}:${kind === INTEGER ? '{"N":"' : '{"S":"'}`));
    this.zoned = this.decoders.map((d) => d === decodeTimestamptz);
    for (const name of Object.keys(mapper.indexes ?? {})) {
      if (!INDEXES.some((i) => i.name === name)) {
        throw new Error(`mapper ${mapper.table}: index ${name} is not one of the table's indexes (${INDEXES.map((i) => i.name).join(', ')}, model/table.ts)`);
      }
    }
    const pairs: [string, string, Mapper['key'] | undefined, boolean][] = [
      [PRIMARY_KEY.partition, PRIMARY_KEY.sort, mapper.key, false],
      ...INDEXES.map((i): [string, string, Mapper['key'] | undefined, boolean] => [i.partition, i.sort, mapper.indexes?.[i.name], true]),
    ];
    for (const [pk, sk, templates, gsi] of pairs) {
      if (!templates) continue;
      this.templates.push({ name: pk, template: compileTemplate(templates.pk), gsi, limit: MAX_PARTITION_KEY_BYTES });
      this.templates.push({ name: sk, template: compileTemplate(templates.sk), gsi, limit: MAX_SORT_KEY_BYTES });
    }
    for (const { template } of this.templates) {
      for (const name of template.names) {
        if (!this.index.has(name) && !mapper.computed?.[name] && !mapper.joins?.[name]) {
          throw new Error(`mapper ${mapper.table}: key template ${JSON.stringify(template.text)} names ${name}, which is neither a column of ${table.name}, a computed value nor a join`);
        }
      }
    }
    for (const [name, join] of Object.entries(mapper.joins ?? {})) {
      if (!this.index.has(join.on)) throw new Error(`mapper ${mapper.table}: join ${name} reads column ${join.on}, which ${table.name} does not have`);
    }
    for (const column of [mapper.ttl, mapper.createdAt, mapper.updatedAt]) {
      if (column && !this.index.has(column)) throw new Error(`mapper ${mapper.table}: ${table.name} has no column ${column}`);
    }
    // Any other type's values would never read as an instant: every item would silently lack its ttl.
    const ttlColumn = mapper.ttl ? table.columns[this.index.get(mapper.ttl)!]! : undefined;
    if (ttlColumn && !holdsInstant(ttlColumn)) {
      throw new Error(`mapper ${mapper.table}: ttl names ${table.name}.${ttlColumn.name}, of type ${ttlColumn.type}; ttl takes a timestamp or date column ` +
        '(its instant becomes the epoch seconds DynamoDB expires the item at): name one, or drop ttl');
    }
    this.values = (name) => this.value(name);
    this.columnValues = (name) => this.column(name);
    this.fixedBytes = 'entity_type'.length + Buffer.byteLength(mapper.entityType, 'utf8') + 'data'.length + 3;
    this.stamps = ([['created_at', mapper.createdAt ?? 'created_at'], ['updated_at', mapper.updatedAt ?? 'updated_at']] as const)
      .map(([attribute, column]) => [attribute, this.index.get(column) ?? -1]);
    this.stampBytes = this.stamps.map(([attribute, index]) => [attribute, index, Buffer.from(`,"${attribute}":{"S":"`)]);
    this.entityBytes = Buffer.from(`"entity_type":{"S":${JSON.stringify(mapper.entityType)}},"data":{"M":{`);
    this.ttlIndex = mapper.ttl ? this.index.get(mapper.ttl)! : -1;
  }

  /** Text a key or computed value sees: timestamps canonical, the rest as PostgreSQL printed it. */
  private column(name: string): string | null {
    const i = this.index.get(name);
    return i === undefined ? null : this.columnText(i);
  }

  /** Column i's text as extracted (null for NULL), from the row or the record being built. */
  private field(i: number): string | null {
    return this.record ? this.record.text(i) : this.row[i] ?? null;
  }

  /** Per row, each column's key text is made once (keys, created_at and ttl often share a timestamp). */
  private readonly textCache: (string | null | undefined)[] = [];

  private columnText(i: number): string | null {
    let text = this.textCache[i];
    if (text === undefined) {
      const raw = this.field(i);
      text = raw === null ? null : this.keyText[i]!(raw);
      this.textCache[i] = text;
    }
    return text;
  }

  private value(name: string): string | null {
    const join = this.mapper.joins?.[name];
    if (join) {
      // Joins match the other table's text as extracted, so the raw text is looked up.
      const on = this.field(this.index.get(join.on)!);
      return on === null ? null : this.joins.get(name)?.get(on) ?? null;
    }
    const computed = this.mapper.computed?.[name];
    if (computed) return computed(this.columnValues);
    return this.column(name);
  }

  private reject(row: number, column: string | null, reason: string): Reject {
    const primary_key: Record<string, string | null> = {};
    for (const name of this.table.primary_key) primary_key[name] = this.field(this.index.get(name)!);
    return { table: this.table.name, row, primary_key, column, reason };
  }

  /**
   * A key DynamoDB would refuse for its size. The reject names the attribute,
   * its template, sizes and the column giving it most bytes, never the key's
   * text (keys hold ids and hashes of personal data).
   */
  private keyTooLong(row: number, key: KeyTemplate, bytes: number): Reject {
    let column: string | null = null;
    let most = -1;
    for (const name of key.template.names) {
      // A joined value is named by this table's column it joins on.
      const join = this.mapper.joins?.[name];
      const source = join ? join.on : this.index.has(name) ? name : null;
      if (source === null) continue;
      const text = join ? this.value(name) : this.column(name);
      const n = text === null ? -1 : Buffer.byteLength(text, 'utf8');
      if (n > most) [column, most] = [source, n];
    }
    const kind = key.limit === MAX_PARTITION_KEY_BYTES ? 'partition' : 'sort';
    const reason = `${key.name} ${key.template.text} is ${bytes} bytes of UTF-8, over DynamoDB's ${key.limit}-byte limit for a ${kind} key`;
    return { ...this.reject(row, column, reason), attribute: key.name, bytes, limit: key.limit };
  }

  /** The row's key attributes by name (table key first, then each GSI's), or the reject of a key that cannot be made. Starts the size. */
  private keys(rowNumber: number): Record<string, string> | Reject {
    const keys: Record<string, string> = {};
    this.size = 0;
    for (let i = 0; i < this.templates.length; i += 2) {
      const pk = this.templates[i]!;
      const sk = this.templates[i + 1]!;
      const pkValue = pk.template.render(this.values);
      const skValue = sk.template.render(this.values);
      if ('key' in pkValue && 'key' in skValue) {
        // A key over its size fails the write, in a GSI as in the table: the row is a reject, never a load failure.
        const pkBytes = utf8Bytes(pkValue.key);
        if (pkBytes > pk.limit) return this.keyTooLong(rowNumber, pk, pkBytes);
        const skBytes = utf8Bytes(skValue.key);
        if (skBytes > sk.limit) return this.keyTooLong(rowNumber, sk, skBytes);
        keys[pk.name] = pkValue.key;
        keys[sk.name] = skValue.key;
        // Key attribute names are ASCII: their length is their size.
        this.size += pk.name.length + pkBytes + sk.name.length + skBytes;
      } else if (!pk.gsi) {
        // The table key must exist; an index key may be absent (the item is then not in that index).
        const failed = 'reason' in pkValue ? pkValue : (skValue as { name: string; reason: string });
        const join = this.mapper.joins?.[failed.name];
        const on = join ? this.field(this.index.get(join.on)!) : null;
        const where = `${'reason' in pkValue ? pk.name : sk.name} ${'reason' in pkValue ? pk.template.text : sk.template.text}`;
        const reason = !join
          ? `${where}: ${failed.reason}`
          : on === null
            ? `${where}: ${failed.name} joins ${join.table} on ${join.on}, which is NULL`
            : this.joins.get(failed.name)?.has(on)
              ? `${where}: the ${join.table} row with ${join.match} = ${on} has no ${join.take} (${failed.reason.replace(`${failed.name} `, '')})`
              : `${where}: no ${join.table} row with ${join.match} = ${on}`;
        return this.reject(rowNumber, join ? join.on : this.index.has(failed.name) ? failed.name : null, reason);
      }
    }
    return keys;
  }

  /** The line up to the first `data` value: the keys, entity_type and data's opening. */
  private head(keys: Record<string, string>): string {
    let line = '{"Item":{';
    for (const name of KEY_ATTRIBUTES) {
      const key = keys[name];
      if (key === undefined) continue;
      line += `"${name}":{"S":${jsonString(key)}},`;
    }
    this.size += this.fixedBytes;
    return `${line}"entity_type":{"S":${JSON.stringify(this.mapper.entityType)}},"data":{"M":{`;
  }

  /** The JSON of column i's non-NULL value `text` (adding its size), or the reject of a value its decoder refuses. */
  private valueJson(i: number, text: string, rowNumber: number): string | Reject {
    const kind = this.kinds[i]!;
    // Text (most columns) is its own S: no decoder call, no attribute object.
    if (kind === TEXT) {
      if (PLAIN.test(text)) {
        this.size += text.length;
        return `{"S":"${text}"}`;
      }
      this.size += Buffer.byteLength(text, 'utf8');
      return `{"S":${JSON.stringify(text)}}`;
    }
    let value: AttributeValue;
    try {
      value = this.decoders[i]!(text, this.warners[i]!);
    } catch (err) {
      return this.reject(rowNumber, this.table.columns[i]!.name, (err as Error).message);
    }
    if (kind === INTEGER) {
      // Digits and a sign: nothing to escape.
      this.size += numberSize(text);
      return `{"N":"${text}"}`;
    }
    if (kind === TIMESTAMP) {
      const s = (value as { S: string }).S;
      // The same text a key or created_at would make of this column (canonicalTimestamp), made once.
      this.textCache[i] = s;
      this.size += utf8Bytes(s);
      return `{"S":${jsonString(s)}}`;
    }
    this.size += attributeSize(value);
    return attributeJson(value);
  }

  /** The item's ttl: epoch seconds of the mapper's ttl column, when it has a finite value. */
  private ttl(): number | undefined {
    if (!this.mapper.ttl) return undefined;
    const text = this.column(this.mapper.ttl);
    return text === null ? undefined : epochSeconds(text);
  }

  /** The line after the last `data` value: created_at, updated_at and ttl. */
  private tail(ttl: number | undefined): string {
    let line = '}}';
    for (const [attribute, index] of this.stamps) {
      const value = index < 0 ? null : this.columnText(index);
      if (value === null) continue;
      line += `,"${attribute}":{"S":${jsonString(value)}}`;
      this.size += attribute.length + utf8Bytes(value);
    }
    if (ttl !== undefined) {
      line += `,"ttl":{"N":"${ttl}"}`;
      this.size += 3 + numberSize(String(ttl));
    }
    return `${line}}}`;
  }

  /** An item over 400 KB: the reject names the column whose text is largest, the one to look at (never its text). */
  private tooLarge(rowNumber: number): Reject {
    let column: string | null = null;
    let most = -1;
    for (let i = 0; i < this.table.columns.length; i++) {
      const text = this.field(i);
      const bytes = text === null ? -1 : Buffer.byteLength(text, 'utf8');
      if (bytes > most) [column, most] = [this.table.columns[i]!.name, bytes];
    }
    return this.reject(rowNumber, column, `item is ${this.size} bytes by DynamoDB's rules, over the 400 KB limit`);
  }

  private itemKeys(keys: Record<string, string>, ttl: number | undefined): ItemKeys {
    return { pk: keys[PRIMARY_KEY.partition]!, sk: keys[PRIMARY_KEY.sort]!, size: this.size, ...(ttl !== undefined ? { ttl } : {}) };
  }

  /** One row's item, its line as a string. */
  build(row: CsvRow, rowNumber: number): Item | Reject {
    if (row.length !== this.table.columns.length) {
      throw new Error(`${this.table.name} row ${rowNumber}: ${row.length} fields where the manifest has ${this.table.columns.length} columns`);
    }
    this.row = row;
    this.record = undefined;
    this.textCache.length = 0;
    const keys = this.keys(rowNumber);
    if (isReject(keys)) return keys;
    let line = this.head(keys);
    let first = true;
    for (let i = 0; i < row.length; i++) {
      const text = row[i];
      if (text === null || text === undefined) continue;
      line += `${first ? '' : ','}${this.dataNames[i]}:`;
      first = false;
      this.size += 1 + this.nameBytes[i]!;
      const json = this.valueJson(i, text, rowNumber);
      if (typeof json !== 'string') return json;
      line += json;
    }
    const ttl = this.ttl();
    line += this.tail(ttl);
    return this.size > MAX_ITEM_BYTES ? this.tooLarge(rowNumber) : { line, ...this.itemKeys(keys, ttl) };
  }

  /**
   * One record's item, its line (with its newline) appended to `out` from the
   * record's bytes: a field that needs no decoding or escaping is copied as
   * it is (see copyText), any other goes through valueJson, as in build; the
   * bytes are the same. On a reject, `out` holds part of a line.
   */
  buildRecord(record: CsvRecord, rowNumber: number, out: ByteBuffer): ItemKeys | Reject {
    if (record.count !== this.table.columns.length) {
      throw new Error(`${this.table.name} row ${rowNumber}: ${record.count} fields where the manifest has ${this.table.columns.length} columns`);
    }
    this.record = record;
    this.textCache.length = 0;
    const keys = this.keys(rowNumber);
    if (isReject(keys)) return keys;
    this.putHead(keys, out);
    const { buffer: source, starts, ends } = record;
    let first = true;
    for (let i = 0; i < record.count; i++) {
      let start = starts[i]!;
      if (start < 0) continue;
      let end = ends[i]!;
      const quoted = source[start] === QUOTE;
      if (quoted) { start++; end--; }
      // Room for the name, the value's wrapper and its bytes copied as they are.
      out.reserve(end - start + this.openBytes[i]!.length + 40);
      if (!first) out.buffer[out.length++] = COMMA;
      first = false;
      this.size += 1 + this.nameBytes[i]!;
      const kind = this.kinds[i]!;
      const open = this.openBytes[i]!;
      if (kind !== OTHER && !(quoted && kind !== TEXT)) {
        const valueAt = out.length + open.length;
        const written = kind === TEXT ? copyText(source, start, end, out.buffer, valueAt)
          : kind === INTEGER ? copyInteger(source, start, end, out.buffer, valueAt)
            : copyTimestamp(source, start, end, this.zoned[i]!, out.buffer, valueAt);
        if (written >= 0) {
          putBytes(open, out.buffer, out.length);
          out.length = valueAt + written;
          out.buffer[out.length++] = QUOTE;
          out.buffer[out.length++] = CLOSE_BRACE;
          this.size += kind === INTEGER ? integerSize(source, start, end) : written;
          continue;
        }
      }
      // Decoded and escaped as build does it, after the comma already written.
      const json = this.valueJson(i, record.text(i)!, rowNumber);
      if (typeof json !== 'string') return json;
      out.append(`${this.dataNames[i]}:${json}`);
    }
    const ttl = this.recordTtl(record);
    this.putTail(record, ttl, out);
    return this.size > MAX_ITEM_BYTES ? this.tooLarge(rowNumber) : this.itemKeys(keys, ttl);
  }

  /** head(), written to `out`. */
  private putHead(keys: Record<string, string>, out: ByteBuffer): void {
    putConstant(ITEM_OPEN, out);
    for (const [name, open] of KEY_OPEN) {
      const key = keys[name];
      if (key === undefined) continue;
      putConstant(open, out);
      putString(key, out);
      putConstant(KEY_CLOSE, out);
    }
    putConstant(this.entityBytes, out);
    this.size += this.fixedBytes;
  }

  /** ttl() from the record's bytes when its column has the usual timestamp form. */
  private recordTtl(record: CsvRecord): number | undefined {
    const i = this.ttlIndex;
    if (i < 0) return undefined;
    const start = record.starts[i]!;
    if (this.kinds[i] === TIMESTAMP && start >= 0) {
      const seconds = timestampSeconds(record.buffer, start, record.ends[i]!, this.zoned[i]!);
      if (seconds !== undefined) return seconds;
    }
    return this.ttl();
  }

  /** tail(ttl) and the line's newline, written to `out`; a timestamp stamp is copied from the record's bytes. */
  private putTail(record: CsvRecord, ttl: number | undefined, out: ByteBuffer): void {
    putConstant(DATA_CLOSE, out);
    for (const [attribute, index, open] of this.stampBytes) {
      if (index < 0) continue;
      const start = record.starts[index]!;
      if (this.kinds[index] === TIMESTAMP && start >= 0) {
        out.reserve(open.length + 32);
        const written = copyTimestamp(record.buffer, start, record.ends[index]!, this.zoned[index]!, out.buffer, out.length + open.length);
        if (written >= 0) {
          putBytes(open, out.buffer, out.length);
          out.length += open.length + written;
          putConstant(STAMP_CLOSE, out);
          this.size += attribute.length + written;
          continue;
        }
      }
      const value = this.columnText(index);
      if (value === null) continue;
      putConstant(open.subarray(0, open.length - 1), out);
      this.size += attribute.length + putString(value, out);
      putConstant(VALUE_CLOSE, out);
    }
    if (ttl !== undefined) {
      const text = String(ttl);
      putConstant(TTL_OPEN, out);
      putString(text, out);
      putConstant(VALUE_CLOSE, out);
      this.size += 3 + numberSize(text);
    }
    putConstant(LINE_CLOSE, out);
  }
}

/**
 * Printable ASCII without `"` and `\`: its JSON is itself in quotes and its
 * UTF-8 size its length. One regular expression test costs far less than
 * JSON.stringify and Buffer.byteLength (native calls) on the short strings of
 * a row; anything else takes them, so the bytes are the same.
 */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function jsonString(text: string): string {
  return PLAIN.test(text) ? `"${text}"` : JSON.stringify(text);
}

function utf8Bytes(text: string): number {
  return PLAIN.test(text) ? text.length : Buffer.byteLength(text, 'utf8');
}

/** JSON of an attribute value; the common scalar shapes without JSON.stringify's generic walk. */
function attributeJson(value: AttributeValue): string {
  if ('S' in value) return `{"S":${jsonString(value.S)}}`;
  // Number text is digits, sign, point and exponent only: nothing to escape.
  if ('N' in value) return `{"N":"${value.N}"}`;
  if ('BOOL' in value) return value.BOOL ? '{"BOOL":true}' : '{"BOOL":false}';
  return JSON.stringify(value);
}

export function isReject<T extends object>(result: T | Reject): result is Reject {
  return 'reason' in result;
}
