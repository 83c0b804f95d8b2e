import test from 'ava';
import type { ColumnSchema, TableEntry } from '../lib/manifest.ts';
import { ItemBuilder, isReject, type Item, type Reject } from './item.ts';
import { MAX_ITEM_BYTES } from './item-size.ts';
import { defineMapper, type Mapper } from './entity.ts';

const text = (name: string): ColumnSchema => ({ name, type: 'text', category: 'S', nullable: true });

function table(columns: string[]): TableEntry {
  return {
    name: 't', schema: 'public', table: 't', as_of: '2026-01-01T00:00:00.000000Z', snapshot_id: 's',
    columns: columns.map(text), primary_key: ['id'], order_by: ['id'], rows: 0, raw_bytes: 0, bytes: 0, parts: [],
  };
}

const mapper = (extra: Partial<Mapper> = {}) => defineMapper({
  table: 't', entityType: 'thing',
  key: { pk: 'P#{id}', sk: 'S#{name}' },
  indexes: {
    GSI1: { pk: 'G#{g1}', sk: 'H#{g1s}' },
    GSI2: { pk: '{g2}', sk: '{g2s}' },
  },
  ...extra,
});

const COLUMNS = ['id', 'name', 'g1', 'g1s', 'g2', 'g2s', 'body'];

/** One row through the real builder: columns by name, the rest 'x'. */
function build(values: Record<string, string | null>, extra: Partial<Mapper> = {}): Item | Reject {
  const builder = new ItemBuilder(mapper(extra), table(COLUMNS), new Map());
  return builder.build(COLUMNS.map((c) => (c in values ? values[c]! : 'x')), 7);
}

const ascii = (bytes: number, prefix: string) => 'a'.repeat(bytes - prefix.length);

test('each key attribute is accepted at exactly its UTF-8 limit and rejected one byte over, table and GSIs alike', (t) => {
  const cases: [attribute: string, column: string, prefix: string, limit: number][] = [
    ['PK', 'id', 'P#', 2048], ['SK', 'name', 'S#', 1024],
    ['GSI1PK', 'g1', 'G#', 2048], ['GSI1SK', 'g1s', 'H#', 1024],
    ['GSI2PK', 'g2', '', 2048], ['GSI2SK', 'g2s', '', 1024],
  ];
  for (const [attribute, column, prefix, limit] of cases) {
    const template = `${prefix}{${column}}`;
    const at = build({ [column]: ascii(limit, prefix) });
    t.false(isReject(at), `${attribute} at ${limit} bytes`);
    const over = build({ [column]: ascii(limit + 1, prefix) });
    t.true(isReject(over), `${attribute} at ${limit + 1} bytes`);
    const kind = limit === 2048 ? 'partition' : 'sort';
    t.like(over as Reject, { table: 't', row: 7, column, attribute, bytes: limit + 1, limit });
    t.is((over as Reject).reason, `${attribute} ${template} is ${limit + 1} bytes of UTF-8, over DynamoDB's ${limit}-byte limit for a ${kind} key`);
  }
});

test('key limits count UTF-8 bytes, not characters: multibyte keys under the limit in characters are rejected', (t) => {
  // 'あ' is 1 UTF-16 unit and 3 UTF-8 bytes; '😀' is 2 units and 4 bytes; 'é' 1 unit and 2 bytes.
  const sk1024 = `${'あ'.repeat(340)}ab`; // S# + 1020 + 2 = 1024 bytes, 344 characters
  t.false(isReject(build({ name: sk1024 })));
  const sk1025 = `${'あ'.repeat(341)}`; // S# + 1023 = 1025 bytes, 343 characters
  t.like(build({ name: sk1025 }) as Reject, { attribute: 'SK', bytes: 1025, limit: 1024 });
  const pk2049 = `${'😀'.repeat(511)}abc`; // P# + 2044 + 3 = 2049 bytes, 1027 UTF-16 units
  t.like(build({ id: pk2049 }) as Reject, { attribute: 'PK', bytes: 2049, limit: 2048 });
  t.false(isReject(build({ id: `${'😀'.repeat(511)}ab` })), '2048 bytes');
  const gsi = 'é'.repeat(512); // H# + 1024 = 1026 bytes, 514 characters
  t.like(build({ g1s: gsi }) as Reject, { attribute: 'GSI1SK', bytes: 1026, column: 'g1s' });
});

test('a key-size reject never carries the key text, only the row primary key as every reject does', (t) => {
  const secret = `${'s'.repeat(1100)}@example.com`;
  const reject = build({ id: 'row-1', name: secret }) as Reject;
  t.true(isReject(reject));
  t.deepEqual(reject.primary_key, { id: 'row-1' });
  t.false(JSON.stringify(reject).includes('@example.com'));
});

test('an index key pair that cannot render is still omitted, not rejected, whatever its other half', (t) => {
  const item = build({ g1: null, g1s: ascii(5000, 'H#') });
  t.false(isReject(item), 'GSI1 absent: the item is not in the index, its long SK is never written');
  t.false((item as Item).line.includes('GSI1'));
});

test('the item size counts a non-ASCII entity type in UTF-8 bytes: an item one byte over 400 KB is rejected', (t) => {
  // 100 characters, 200 bytes: counted in UTF-16 units the item would look 100 bytes smaller.
  const entityType = 'ü'.repeat(100);
  const sized = (bodyBytes: number) => build({ body: 'b'.repeat(bodyBytes) }, { entityType });
  const base = sized(0) as Item;
  const fits = MAX_ITEM_BYTES - base.size;
  const at = sized(fits) as Item;
  t.false(isReject(at));
  t.is(at.size, MAX_ITEM_BYTES);
  t.is(dynamoSize(at.line), MAX_ITEM_BYTES, 'an independent count of the line agrees');
  const over = sized(fits + 1) as Reject;
  t.true(isReject(over));
  t.is(over.reason, `item is ${MAX_ITEM_BYTES + 1} bytes by DynamoDB's rules, over the 400 KB limit`);
  t.is(over.column, 'body', 'the reject names the column that made the item too large');
});

test('an item over 400 KB is rejected naming its largest column (in UTF-8 bytes), never its text', (t) => {
  const builder = new ItemBuilder(defineMapper({ table: 't', entityType: 'thing', key: { pk: 'P#{id}', sk: 'S' } }), table(['id', 'a', 'b']), new Map());
  const over = builder.build(['1', 'é'.repeat(150_000), 'b'.repeat(250_000)], 1) as Reject;
  t.true(isReject(over));
  t.like(over, { table: 't', row: 1, primary_key: { id: '1' }, column: 'a' }, '300,000 bytes of é outweigh 250,000 of b');
  t.regex(over.reason, /^item is 550\d{3} bytes by DynamoDB's rules, over the 400 KB limit$/);
  t.false(JSON.stringify(over).includes('éé'));
});

/**
 * An item's size recounted from its line by DynamoDB's rules, for items of S
 * values and one M of S values: names and values in UTF-8 bytes, 3 per M and
 * 1 per map member.
 */
function dynamoSize(line: string): number {
  const item = JSON.parse(line).Item as Record<string, { S?: string; M?: Record<string, { S: string }> }>;
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    size += Buffer.byteLength(name);
    if (value.S !== undefined) {
      size += Buffer.byteLength(value.S);
    } else {
      size += 3;
      for (const [k, v] of Object.entries(value.M!)) size += 1 + Buffer.byteLength(k) + Buffer.byteLength(v.S);
    }
  }
  return size;
}

test('ttl must name a timestamp or date column (a domain by its base type): any other type is refused, naming the column and its type, not built without ttl', (t) => {
  const typed = (ttl: Partial<ColumnSchema>): TableEntry => ({ ...table(COLUMNS), columns: [...COLUMNS.map(text), { ...text('expires'), ...ttl }] });
  for (const type of ['bigint', 'text', 'integer[]', 'timestamp with time zone[]', 'interval']) {
    t.throws(() => new ItemBuilder(mapper({ ttl: 'expires' }), typed({ type }), new Map()), { message: `mapper t: ttl names t.expires, of type ${type}; ttl takes a timestamp or date column (its instant becomes the epoch seconds DynamoDB expires the item at): name one, or drop ttl` }, type);
  }
  t.throws(() => new ItemBuilder(mapper({ ttl: 'expires' }), typed({ type: 'expiry', base_type: 'bigint' }), new Map()), { message: /of type expiry;/ });
  // Types of one's own whose name starts like a timestamp's (an enum, a range): never an instant either.
  for (const type of ['timestamp_kind', 'timestamprange', 'dates']) {
    t.throws(() => new ItemBuilder(mapper({ ttl: 'expires' }), typed({ type }), new Map()), { message: new RegExp(`of type ${type};`) }, type);
  }
  const accepted: [Partial<ColumnSchema>, string][] = [
    [{ type: 'timestamp(3) with time zone' }, '2030-01-02 00:00:00+00'], [{ type: 'timestamp without time zone' }, '2030-01-02 00:00:00'],
    [{ type: 'date' }, '2030-01-02'], [{ type: 'expiry', base_type: 'date' }, '2030-01-02'],
  ];
  for (const [column, value] of accepted) {
    const builder = new ItemBuilder(mapper({ ttl: 'expires' }), typed(column), new Map());
    const item = builder.build([...COLUMNS.map(() => 'x'), value], 1) as Item;
    t.is(item.ttl, Date.UTC(2030, 0, 2) / 1000, JSON.stringify(column));
  }
});
