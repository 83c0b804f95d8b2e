import test from 'ava';
import { entityFileName, entityFileText } from './scaffold.ts';

const ENTITY = '/toolkit/model/entity.ts';

test('a scaffolded entity has the generic keys, the Mapper type only, and every column with its type', (t) => {
  const text = entityFileText({ name: 'users', primary_key: ['id'], columns: [{ name: 'id', type: 'uuid' }, { name: 'email', type: 'character varying(255)' }] }, ENTITY);
  t.true(text.includes(`import type { Mapper } from "${ENTITY}";`));
  t.true(text.includes(`key: { pk: "USERS#{id}", sk: 'ROW' },`));
  t.regex(text, /\/\/ {3}id {5}uuid {2}\(primary key\)\n/);
  t.regex(text, /\/\/ {3}email {2}character varying\(255\)\n/);
  t.false(text.includes('computed: {'));
});

test('primary key columns that cannot be placeholders get computed values; a table without one is told to choose', (t) => {
  const text = entityFileText({ name: 'audit.odd-table', primary_key: ['tenant', 'row id'], columns: [{ name: 'tenant', type: 'integer' }, { name: 'row id', type: 'bigint' }] }, ENTITY);
  t.true(text.includes(`key: { pk: "AUDIT_ODD_TABLE#{tenant}#{pk1}", sk: 'ROW' },`));
  t.true(text.includes(`computed: { pk1: (row) => row("row id") },`));
  t.is(entityFileName('audit.odd-table'), 'audit.odd-table.ts');
  const none = entityFileText({ name: 'log', primary_key: [], columns: [{ name: 'line', type: 'text' }] }, ENTITY);
  t.true(none.includes('log has no primary key: choose columns'));
  t.true(none.includes(`key: { pk: "LOG#{line}", sk: 'ROW' },`));
});
