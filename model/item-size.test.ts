import test from 'ava';
import { integerSize } from './item-bytes.ts';
import { attributeSize, numberSize } from './item-size.ts';

test('numberSize counts significant digits, trimming leading and trailing zeros and the exponent', (t) => {
  const cases: [string, number][] = [
    ['7', 2], ['12', 2], ['123', 3], ['-123.45', 5], ['1000', 2], ['0.0012', 2],
    ['12345678901234567890123456789012345678', 20], ['1e+100', 2], ['9.99E-5', 3],
  ];
  for (const [text, bytes] of cases) t.is(numberSize(text), bytes, text);
});

test('numberSize counts one more byte for a negative number, not for negative zero', (t) => {
  // DynamoDB Local refuses an item of 102,398 `-1` as over 400 KB: each is 3 bytes, not 2.
  t.is(numberSize('-1'), 3);
  t.is(numberSize('-12'), 3);
  t.is(numberSize('-123'), 4);
  t.is(numberSize('-0.5'), 3);
  t.is(numberSize('-0'), 1);
  t.is(numberSize('-0.000'), 1);
});

test('numberSize counts base-100 pairs aligned on the decimal point, as DynamoDB stores a number', (t) => {
  // Measured on DynamoDB Local 3.3.0: the most of one number a 400 KB item's list holds is 136,531 at 2 bytes
  // (`1`, `12`, `0.12`, `1.2e1`, `1.2e5`, `5e-1`), 102,398 at 3 (`120`, `1.2`, `1.23`, `12.3`, `123`, `-1`),
  // 81,918 at 4 (`1.234`, `-1.2`), 68,265 at 5 (`100.001`) and 204,796 at 1 (`0`, `0.00`, `-0`). Counting
  // significant digits alone made `120` and `1.2` 2 bytes: an item of 110,000 `120` passed as 330 KB and
  // DynamoDB refused it as over 400 KB.
  const measured: [string, number][] = [
    ['1', 2], ['12', 2], ['0.12', 2], ['1.2e1', 2], ['1.2e5', 2], ['5e-1', 2],
    ['120', 3], ['1.2', 3], ['1.23', 3], ['12.3', 3], ['123', 3], ['-1', 3],
    ['1.234', 4], ['-1.2', 4], ['100.001', 5], ['0', 1], ['0.00', 1], ['-0', 1],
    ['1.500', 3], ['1.2345678901234567890123456789012345678', 21],
  ];
  for (const [text, bytes] of measured) t.is(numberSize(text), bytes, text);
  for (const [text, bytes] of measured.filter(([x]) => /^-?\d+$/.test(x))) {
    t.is(integerSize(Buffer.from(text), 0, text.length), bytes, `integerSize ${text}`);
  }
});

test('attributeSize follows DynamoDB rules for strings, binaries, lists and maps', (t) => {
  t.is(attributeSize({ S: 'héllo' }), 6);
  t.is(attributeSize({ B: Buffer.from([1, 2, 3]).toString('base64') }), 3);
  t.is(attributeSize({ BOOL: true }), 1);
  t.is(attributeSize({ NULL: true }), 1);
  t.is(attributeSize({ L: [{ S: 'ab' }, { N: '1' }] }), 3 + (1 + 2) + (1 + 2));
  t.is(attributeSize({ M: { ab: { S: 'x' } } }), 3 + 1 + 2 + 1);
});
