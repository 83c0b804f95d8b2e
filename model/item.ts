// One source row → one DynamoDB JSON line, `{"Item":{…}}`, with attributes in
// the canonical order (the key attributes as model/table.ts orders them: PK,
// SK, GSI1PK, GSI1SK, GSI2PK, GSI2SK; then entity_type, data, created_at,
// updated_at, ttl; `data` keys in column order) so that item
// files diff well. Rows that cannot become a valid item become rejects.
import type { ColumnSchema, TableEntry } from '../lib/manifest.ts';
import type { CsvRow } from '../lib/copy-csv.ts';
import type { AttributeValue } from './attribute.ts';
import { canonicalTimestamp, decoderFor, type Decoder } from './decode/index.ts';
import { MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES } from './dynamodb-limits.ts';
import { decodeInteger } from './decode/integer.ts';
import { decodeText } from './decode/text.ts';
import { decodeTimestamp, decodeTimestamptz } from './decode/timestamp.ts';
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

export interface Item {
  line: string;
  pk: string;
  sk: string;
  /** Size by DynamoDB's rules. */
  size: number;
  /** Epoch seconds, when the mapper names a ttl column and the row has a finite value. */
  ttl?: number;
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

/** Epoch seconds (floor) of a canonical timestamp or a date; undefined for infinity, BC or odd forms. */
export function epochSeconds(text: string): number | undefined {
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d):(\d\d)(?:\.\d+)?Z?)?$/.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0'] = m;
  // The fraction is non-negative, so flooring drops it even before 1970.
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000;
}

export class ItemBuilder {
  private readonly index = new Map<string, number>();
  private readonly decoders: Decoder[];
  /** Per column, the decoders whose JSON and size are written inline (no attribute object, no generic walk). */
  private readonly kinds: Kind[];
  private readonly keyText: ((text: string) => string)[];
  private readonly templates: KeyTemplate[] = [];
  private readonly dataNames: string[];
  private row: CsvRow = [];
  /** What templates see: joins, computed values, then columns. */
  private readonly values: RowValues;
  /** What computed values see: columns only (a computed `email_hash` reads the column of that name). */
  private readonly columnValues: RowValues;

  /** Per column: its warning callback and its name's UTF-8 length, made once, not per row. */
  private readonly warners: ((reason: string) => void)[];
  private readonly nameBytes: number[];
  /** Columns feeding the top-level created_at / updated_at (index, or -1 when the table has none). */
  private readonly stamps: [attribute: string, index: number][];
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
    this.values = (name) => this.value(name);
    this.columnValues = (name) => this.column(name);
    this.fixedBytes = 'entity_type'.length + Buffer.byteLength(mapper.entityType, 'utf8') + 'data'.length + 3;
    this.stamps = ([['created_at', mapper.createdAt ?? 'created_at'], ['updated_at', mapper.updatedAt ?? 'updated_at']] as const)
      .map(([attribute, column]) => [attribute, this.index.get(column) ?? -1]);
  }

  /** Text a key or computed value sees: timestamps canonical, the rest as PostgreSQL printed it. */
  private column(name: string): string | null {
    const i = this.index.get(name);
    return i === undefined ? null : this.columnText(i);
  }

  /** Per row, each column's key text is made once (keys, created_at and ttl often share a timestamp). */
  private readonly textCache: (string | null | undefined)[] = [];

  private columnText(i: number): string | null {
    let text = this.textCache[i];
    if (text === undefined) {
      const raw = this.row[i] ?? null;
      text = raw === null ? null : this.keyText[i]!(raw);
      this.textCache[i] = text;
    }
    return text;
  }

  private value(name: string): string | null {
    const join = this.mapper.joins?.[name];
    if (join) {
      // Joins match the other table's text as extracted, so the raw text is looked up.
      const on = this.row[this.index.get(join.on)!] ?? null;
      return on === null ? null : this.joins.get(name)?.get(on) ?? null;
    }
    const computed = this.mapper.computed?.[name];
    if (computed) return computed(this.columnValues);
    return this.column(name);
  }

  private reject(row: number, column: string | null, reason: string): Reject {
    const primary_key: Record<string, string | null> = {};
    for (const name of this.table.primary_key) primary_key[name] = this.row[this.index.get(name)!] ?? null;
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

  build(row: CsvRow, rowNumber: number): Item | Reject {
    if (row.length !== this.table.columns.length) {
      throw new Error(`${this.table.name} row ${rowNumber}: ${row.length} fields where the manifest has ${this.table.columns.length} columns`);
    }
    this.row = row;
    this.textCache.length = 0;
    const keys: Record<string, string> = {};
    let size = 0;
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
        size += pk.name.length + pkBytes + sk.name.length + skBytes;
      } else if (!pk.gsi) {
        // The table key must exist; an index key may be absent (the item is then not in that index).
        const failed = 'reason' in pkValue ? pkValue : (skValue as { name: string; reason: string });
        const join = this.mapper.joins?.[failed.name];
        const on = join ? this.row[this.index.get(join.on)!] ?? null : null;
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

    let line = '{"Item":{';
    for (const name of KEY_ATTRIBUTES) {
      const key = keys[name];
      if (key === undefined) continue;
      line += `"${name}":{"S":${jsonString(key)}},`;
    }
    line += `"entity_type":{"S":${JSON.stringify(this.mapper.entityType)}},"data":{"M":{`;
    size += this.fixedBytes;
    let first = true;
    for (let i = 0; i < row.length; i++) {
      const text = row[i];
      if (text === null || text === undefined) continue;
      const kind = this.kinds[i]!;
      line += `${first ? '' : ','}${this.dataNames[i]}:`;
      first = false;
      size += 1 + this.nameBytes[i]!;
      // Text (most columns) is its own S: no decoder call, no attribute object.
      if (kind === TEXT) {
        if (PLAIN.test(text)) {
          line += `{"S":"${text}"}`;
          size += text.length;
        } else {
          line += `{"S":${JSON.stringify(text)}}`;
          size += Buffer.byteLength(text, 'utf8');
        }
        continue;
      }
      let value: AttributeValue;
      try {
        value = this.decoders[i]!(text, this.warners[i]!);
      } catch (err) {
        return this.reject(rowNumber, this.table.columns[i]!.name, (err as Error).message);
      }
      if (kind === INTEGER) {
        // Digits and a sign: nothing to escape.
        line += `{"N":"${text}"}`;
        size += numberSize(text);
      } else if (kind === TIMESTAMP) {
        const s = (value as { S: string }).S;
        // The same text a key or created_at would make of this column (canonicalTimestamp), made once.
        this.textCache[i] = s;
        line += `{"S":${jsonString(s)}}`;
        size += utf8Bytes(s);
      } else {
        line += attributeJson(value);
        size += attributeSize(value);
      }
    }
    line += '}}';
    for (const [attribute, index] of this.stamps) {
      const value = index < 0 ? null : this.columnText(index);
      if (value === null) continue;
      line += `,"${attribute}":{"S":${jsonString(value)}}`;
      size += attribute.length + utf8Bytes(value);
    }
    let ttl: number | undefined;
    if (this.mapper.ttl) {
      const text = this.column(this.mapper.ttl);
      ttl = text === null ? undefined : epochSeconds(text);
      if (ttl !== undefined) {
        line += `,"ttl":{"N":"${ttl}"}`;
        size += 3 + numberSize(String(ttl));
      }
    }
    line += '}}';
    if (size > MAX_ITEM_BYTES) {
      return this.reject(rowNumber, null, `item is ${size} bytes by DynamoDB's rules, over the 400 KB limit`);
    }
    return { line, pk: keys[PRIMARY_KEY.partition]!, sk: keys[PRIMARY_KEY.sort]!, size, ...(ttl !== undefined ? { ttl } : {}) };
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

export function isReject(result: Item | Reject): result is Reject {
  return 'reason' in result;
}
