import test from 'ava';
import { extractPartKey, qualifiedName, rejectsFileKey, tableSegment } from './run-layout.ts';

test('ordinary names and keys are unchanged: public tables bare, others schema.table', (t) => {
  t.is(qualifiedName('public', 'users'), 'users');
  t.is(qualifiedName('audit', 'events'), 'audit.events');
  t.is(extractPartKey('audit.events', 3), 'extract/audit.events/part-00003.csv.gz');
  t.is(extractPartKey('users', 0, 'parquet'), 'extract/users/part-00000.parquet');
  t.is(rejectsFileKey('user sessions'), 'transform/rejects/user%20sessions.jsonl');
});

test('a dot or percent sign inside a schema or table name is escaped, so qualified names never collide', (t) => {
  const names = [
    qualifiedName('public', 'audit.events'), qualifiedName('audit', 'events'),
    qualifiedName('a.b', 'c'), qualifiedName('a', 'b.c'), qualifiedName('public', 'a%2Eb'), qualifiedName('public', 'a.b'),
  ];
  t.deepEqual(names, ['audit%2Eevents', 'audit.events', 'a%2Eb.c', 'a.b%2Ec', 'a%252Eb', 'a%2Eb']);
  t.is(new Set(names.map(tableSegment)).size, names.length);
});

test('a storage segment is never a directory name the file system would resolve', (t) => {
  t.is(tableSegment('.'), '%2E');
  t.is(tableSegment('..'), '%2E%2E');
  t.is(tableSegment('a/b'), 'a%2Fb');
});
