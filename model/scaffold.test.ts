import test from 'ava';
import { isEntityFile } from './registry.ts';
import { entityFileName, entityFileText } from './scaffold.ts';
import { tableKeyLabel } from './template.ts';

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
  t.true(text.includes(`key: { pk: "AUDIT.ODD%2DTABLE#{tenant}#{pk1}", sk: 'ROW' },`));
  t.true(text.includes(`computed: { pk1: (row) => row("row id") },`));
  t.is(entityFileName('audit.odd-table'), 'audit.odd-table.ts');
  const none = entityFileText({ name: 'log', primary_key: [], columns: [{ name: 'line', type: 'text' }] }, ENTITY);
  t.true(none.includes('log has no primary key: choose columns'));
  t.true(none.includes(`key: { pk: "LOG#{line}", sk: 'ROW' },`));
});

// A table `test` of schema `audit` scaffolded into `audit.test.ts`, which the registry reads as a test file
// and skipped: transform then said "no mapper for table(s): audit.test; add <dir>/<table>.ts".
test('every scaffolded file is one the registry loads, and no two tables share a file name', (t) => {
  const names = ['audit.test', 'x%2Etest', 'a/b', 'a_b', 'a\\b', 'users', 'audit.events'];
  const files = names.map(entityFileName);
  for (const file of files) t.true(isEntityFile(file), file);
  t.is(new Set(files).size, names.length, files.join(' '));
  t.is(entityFileName('users'), 'users.ts');
  t.is(entityFileName('audit.events'), 'audit.events.ts');
});

// `Users` and `users`, `a-b` and `a_b`, `audit.events` and `audit_events` all got the same generic key
// label, so the scaffold (and --unmapped generic) gave their rows the same PK: duplicate keys, exit 3.
test('the generic key label of each table is its own: case, punctuation and the schema dot stay apart', (t) => {
  const names = ['users', 'Users', 'USERS', 'a-b', 'a_b', 'audit.events', 'audit_events', 'café', 'cafè', 'x%2Etest', 'x_2Etest'];
  const pks = names.map((name) => /pk: "([^"]*)"/.exec(entityFileText({ name, primary_key: ['id'], columns: [{ name: 'id', type: 'integer' }] }, ENTITY))![1]);
  t.is(new Set(pks).size, names.length, pks.join(' '));
  t.is(pks[0], 'USERS#{id}', 'an ordinary name keeps its label');
  t.is(tableKeyLabel('processing_jobs'), 'PROCESSING_JOBS');
  t.is(tableKeyLabel('audit.events'), 'AUDIT.EVENTS');
});
