import test from 'ava';
import { compileTemplate } from './template.ts';

const values = (v: Record<string, string | null>) => (name: string) => (name in v ? v[name]! : null);

test('fills names and keeps literal text', (t) => {
  const tpl = compileTemplate('USER#{id}#X');
  t.deepEqual(tpl.names, ['id']);
  t.deepEqual(tpl.render(values({ id: 'abc' })), { key: 'USER#abc#X' });
});

test('zero-pads whole numbers so text order is numeric order', (t) => {
  const tpl = compileTemplate('ORDER#{n:4}#{c}');
  t.deepEqual(tpl.render(values({ n: '7', c: 'general' })), { key: 'ORDER#0007#general' });
  t.deepEqual(tpl.render(values({ n: '1000', c: 'x' })), { key: 'ORDER#1000#x' });
  t.like(tpl.render(values({ n: '10000', c: 'x' })), { name: 'n', reason: 'n is not a whole number of at most 4 digits' });
  t.like(tpl.render(values({ n: '-1', c: 'x' })), { name: 'n' });
});

test('a NULL or empty part is a reason, naming the part', (t) => {
  const tpl = compileTemplate('{a}#{b}');
  t.deepEqual(tpl.render(values({ a: 'x', b: null })), { name: 'b', reason: 'b is NULL' });
  t.deepEqual(tpl.render(values({ a: '', b: 'y' })), { name: 'a', reason: 'a is empty' });
});

test('a template without names is a constant', (t) => {
  t.deepEqual(compileTemplate('PROFILE').render(values({})), { key: 'PROFILE' });
});

test('unbalanced braces are refused', (t) => {
  t.throws(() => compileTemplate('USER#{id'), { message: /malformed key template/ });
});
