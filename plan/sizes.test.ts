import test from 'ava';
import type { ColumnSchema, TableEntry } from '../lib/manifest.ts';
import { ItemBuilder, isReject } from '../model/item.ts';
import { defineMapper } from '../model/entity.ts';
import { SizeHistogram, itemSizeBytes, readUnits, writeUnits } from './sizes.ts';

test('write units are per started KB, read units per started 4 KB', (t) => {
  t.deepEqual([1, 1023, 1024, 1025, 4096, 4097].map(writeUnits), [1, 1, 1, 2, 4, 5]);
  t.deepEqual([1, 4096, 4097, 8192, 8193].map(readUnits), [1, 1, 2, 2, 3]);
});

test('item size: attribute names plus values by DynamoDB rules', (t) => {
  // PK: 2 + 6, entity_type: 11 + 4, ttl: 3 + (1767225600: 8 significant digits → 4 + 1), data: 4 + M(3 + (1 + 1 + BOOL 1) + (1 + 1 + L(3 + 1 + S 2)))
  const size = itemSizeBytes({ PK: { S: 'USER#1' }, entity_type: { S: 'user' }, ttl: { N: '1767225600' }, data: { M: { a: { BOOL: true }, b: { L: [{ S: 'xy' }] } } } });
  t.is(size, 8 + 15 + 8 + (4 + 3 + 3 + 2 + 6));
});

test('the histogram gives exact quantiles, sums and maxima', (t) => {
  const h = new SizeHistogram();
  for (let i = 1; i <= 100; i++) h.add(i * 100);
  t.is(h.items, 100);
  t.is(h.max, 10_000);
  t.is(h.quantile(0.99), 9900);
  t.is(h.quantile(0.5), 5000);
  t.is(h.bytes, 505_000);
  t.is(h.writeUnits, Array.from({ length: 100 }, (_, i) => Math.ceil(((i + 1) * 100) / 1024)).reduce((a, b) => a + b));
  t.is(h.countAbove(9800), 2);
  const merged = new SizeHistogram();
  merged.merge(h);
  merged.merge(h);
  t.is(merged.items, 200);
  t.is(merged.quantile(0.99), 9900);
  t.is(new SizeHistogram().quantile(0.99), 0);
});

test("plan's item size equals transform's for multibyte entity types, column names, map keys and values", (t) => {
  const column = (name: string, type: string, category: string): ColumnSchema => ({ name, type, category, nullable: true });
  const columns = [
    column('id', 'text', 'S'), column('naïve', 'text', 'S'), column('données', 'jsonb', 'U'), column('n', 'numeric', 'N'),
    column('b', 'bytea', 'U'), column('tags', 'text[]', 'A'), column('created_at', 'timestamp with time zone', 'D'),
  ];
  const table: TableEntry = {
    name: 't', schema: 'public', table: 't', as_of: '2026-01-01T00:00:00.000000Z', snapshot_id: 's',
    columns, primary_key: ['id'], order_by: ['id'], rows: 0, raw_bytes: 0, bytes: 0, parts: [],
  };
  const mapper = defineMapper({ table: 't', entityType: 'élément_日本', key: { pk: 'É#{id}', sk: 'Ü' }, indexes: { GSI1: { pk: '{id}#ü', sk: '😀' } } });
  const builder = new ItemBuilder(mapper, table, new Map());
  const row = ['ключ', 'ça va 😀', '{"clé":"välue","日本":[1,2.50,{"ß":true,"n":null}]}', '-12.340', '\\x00ff10', '{α,"β γ",NULL}', '2026-01-02 03:04:05.5+00'];
  const item = builder.build(row, 1);
  if (isReject(item)) return t.fail(item.reason);
  t.is(itemSizeBytes(JSON.parse(item.line).Item), item.size);
});
