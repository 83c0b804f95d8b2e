import test from 'ava';
import type { AttributeValue, Decoder } from '../attribute.ts';
import { arrayDecoder } from './array.ts';
import { decodeInteger } from './integer.ts';
import { jsonDecoder } from './json.ts';
import { decodeNumeric } from './numeric.ts';
import { decodeText } from './text.ts';
import { decodeTimestamptz } from './timestamp.ts';

function decode(elementDecoderAt: (level: number) => Decoder, text: string, depth = 2): { value: AttributeValue; warnings: string[] } {
  const warnings: string[] = [];
  const value = arrayDecoder(elementDecoderAt, depth)(text, (reason) => warnings.push(reason));
  return { value, warnings };
}

const text = (): Decoder => decodeText;
const integer = (): Decoder => decodeInteger;
const S = (s: string): AttributeValue => ({ S: s });
const N = (n: string): AttributeValue => ({ N: n });
const NULL: AttributeValue = { NULL: true };

test('array: {a,b} becomes an L of elements', (t) => {
  t.deepEqual(decode(text, '{a,b}'), { value: { L: [S('a'), S('b')] }, warnings: [] });
});

test('array: empty array becomes an empty L', (t) => {
  t.deepEqual(decode(text, '{}').value, { L: [] });
});

test('array: unquoted NULL is the NULL element; quoted "NULL" is the string', (t) => {
  t.deepEqual(decode(text, '{NULL,"NULL","null",x}').value, { L: [NULL, S('NULL'), S('null'), S('x')] });
  t.deepEqual(decode(text, '{NULL}').value, { L: [NULL] });
});

test('array: unquoted NULL is recognized in any case, as array_in does', (t) => {
  t.deepEqual(decode(text, '{null,Null}').value, { L: [NULL, NULL] });
});

test('array: an escaped unquoted NULL is the string', (t) => {
  t.deepEqual(decode(text, '{\\NULL}').value, { L: [S('NULL')] });
});

test('array: empty-string element is quoted and kept', (t) => {
  t.deepEqual(decode(text, '{"",a,""}').value, { L: [S(''), S('a'), S('')] });
});

test('array: quotes, backslashes, commas and braces inside quoted elements', (t) => {
  // As PostgreSQL 15 prints array['a"b', 'c\d', '{}', ',', 'back\slash"quote', 'a,b', '{x}'].
  t.deepEqual(decode(text, String.raw`{"a\"b","c\\d","{}",",","back\\slash\"quote","a,b","{x}"}`).value, {
    L: [S('a"b'), S('c\\d'), S('{}'), S(','), S('back\\slash"quote'), S('a,b'), S('{x}')],
  });
});

test('array: whitespace inside quoted elements is kept (leading, trailing, tabs, line breaks)', (t) => {
  t.deepEqual(decode(text, '{"line\nbreak","tab\tx"," lead","trail "," "}').value, {
    L: [S('line\nbreak'), S('tab\tx'), S(' lead'), S('trail '), S(' ')],
  });
});

test('array: char(n) padding survives (quoted because of the spaces)', (t) => {
  t.deepEqual(decode(text, '{"ab  "}').value, { L: [S('ab  ')] });
});

test('array: non-ASCII unquoted elements', (t) => {
  t.deepEqual(decode(text, '{é😀,血液}').value, { L: [S('é😀'), S('血液')] });
});

test('array: whitespace around elements is skipped, as array_in does', (t) => {
  t.deepEqual(decode(text, '{ a , "b" ,c }').value, { L: [S('a'), S('b'), S('c')] });
  t.deepEqual(decode(text, '{ }').value, { L: [] });
});

test('array: nested {{1,2},{3,4}} becomes nested L', (t) => {
  t.deepEqual(decode(integer, '{{1,2},{3,4}}').value, {
    L: [{ L: [N('1'), N('2')] }, { L: [N('3'), N('4')] }],
  });
});

test('array: multi-dimensional with NULL elements', (t) => {
  t.deepEqual(decode(integer, '{{1,NULL},{NULL,4}}').value, {
    L: [{ L: [N('1'), NULL] }, { L: [NULL, N('4')] }],
  });
});

test('array: three dimensions', (t) => {
  t.deepEqual(decode(integer, '{{{1}},{{2}}}').value, { L: [{ L: [{ L: [N('1')] }] }, { L: [{ L: [N('2')] }] }] });
});

test('array: explicit bounds fall back to S with a warning', (t) => {
  for (const bounded of ['[0:1]={1,2}', '[1:1][3:4]={{1,2}}']) {
    t.deepEqual(decode(integer, bounded), {
      value: S(bounded),
      warnings: ['array with explicit bounds ([lower:upper]={…}) kept as S'],
    });
  }
});

test('array: elements are decoded by the element type (int4[] gives N)', (t) => {
  t.deepEqual(decode(integer, '{-1,9223372036854775807}').value, { L: [N('-1'), N('9223372036854775807')] });
});

test('array: timestamptz[] elements are canonical', (t) => {
  t.deepEqual(decode(() => decodeTimestamptz, '{"2024-01-02 03:04:05+00",infinity,NULL}').value, {
    L: [S('2024-01-02T03:04:05.000000Z'), S('infinity'), NULL],
  });
});

test('array: an element fallback warns for that element only', (t) => {
  t.deepEqual(decode(() => decodeNumeric, '{1.50,NaN,-Infinity}'), {
    value: { L: [N('1.50'), S('NaN'), S('-Infinity')] },
    warnings: ['numeric NaN has no DynamoDB number: kept as S', 'numeric -Infinity has no DynamoDB number: kept as S'],
  });
});

test('array: jsonb[] elements are json documents, one level below the array', (t) => {
  const levels: number[] = [];
  const json = (level: number): Decoder => {
    levels.push(level);
    return jsonDecoder(level);
  };
  const value = decode(json, String.raw`{"{\"a\": 1}","[1, 2]",[],"\"s\"","null",1,NULL}`).value;
  const empty = Object.create(null) as Record<string, AttributeValue>;
  empty['a'] = N('1');
  t.deepEqual(value, { L: [{ M: empty }, { L: [N('1'), N('2')] }, { L: [] }, S('s'), NULL, N('1'), NULL] });
  t.deepEqual(levels, [3]);
});

test('array: element decoders are chosen once per level', (t) => {
  const levels: number[] = [];
  const decoder = arrayDecoder((level) => {
    levels.push(level);
    return decodeText;
  }, 2);
  decoder('{a}', () => {});
  decoder('{{a}}', () => {});
  decoder('{b,c}', () => {});
  t.deepEqual(levels, [3, 4]);
});

test('array: a json element nested too deep falls back alone', (t) => {
  const deep = `${'['.repeat(29)}${']'.repeat(29)}`; // at level 3: innermost at 31 fits
  const tooDeep = `${'['.repeat(30)}${']'.repeat(30)}`;
  const { value, warnings } = decode(jsonDecoder, `{${deep},${tooDeep}}`);
  t.deepEqual((value as { L: AttributeValue[] }).L[1], { S: tooDeep });
  t.deepEqual(warnings, ["json nests deeper than DynamoDB's 32 levels: whole value kept as S"]);
});

test('array: an array deeper than DynamoDB allows at its depth falls back to S', (t) => {
  t.deepEqual(decode(integer, '{{1}}', 30), { value: { L: [{ L: [N('1')] }] }, warnings: [] });
  t.deepEqual(decode(integer, '{{1}}', 31), {
    value: S('{{1}}'),
    warnings: ["array nests deeper than DynamoDB's 32 levels: kept as S"],
  });
});

test('array: the delimiter can be ; (box)', (t) => {
  const value = arrayDecoder(text, 2, ';')('{(1,1),(0,0);(2,2),(1,1)}', () => {});
  t.deepEqual(value, { L: [S('(1,1),(0,0)'), S('(2,2),(1,1)')] });
});

test('array: malformed text throws with the position', (t) => {
  for (const bad of ['', 'a', '{', '{a', '{a,', '{"a}', '{a,,b}', '{,}', '{a}x', '{{1},2}', '{1,{2}}', '{{1},{2}', '{a"b}', '{"a"b}', '{a\\']) {
    t.throws(() => decode(text, bad), { message: /^array: .* at character \d+ of \d+$/ }, JSON.stringify(bad));
  }
});

test('array: an invalid element throws through', (t) => {
  t.throws(() => decode(integer, '{1,x}'), { message: /not an integer/ });
});
