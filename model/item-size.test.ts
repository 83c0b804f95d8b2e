import test from 'ava';
import { attributeSize, numberSize } from './item-size.ts';

test('numberSize counts significant digits, trimming leading and trailing zeros and the exponent', (t) => {
  const cases: [string, number][] = [
    ['0', 2], ['0.00', 2], ['7', 2], ['12', 2], ['123', 3], ['-123.45', 5], ['1000', 2], ['0.0012', 2],
    ['1.500', 2], ['12345678901234567890123456789012345678', 20], ['1e+100', 2], ['9.99E-5', 3], ['100.001', 4],
  ];
  for (const [text, bytes] of cases) t.is(numberSize(text), bytes, text);
});

test('numberSize counts one more byte for a negative number, not for negative zero', (t) => {
  // DynamoDB Local refuses an item of 102,398 `-1` as over 400 KB: each is 3 bytes, not 2.
  t.is(numberSize('-1'), 3);
  t.is(numberSize('-12'), 3);
  t.is(numberSize('-123'), 4);
  t.is(numberSize('-0.5'), 3);
  t.is(numberSize('-0'), 2);
  t.is(numberSize('-0.000'), 2);
});

test('attributeSize follows DynamoDB rules for strings, binaries, lists and maps', (t) => {
  t.is(attributeSize({ S: 'héllo' }), 6);
  t.is(attributeSize({ B: Buffer.from([1, 2, 3]).toString('base64') }), 3);
  t.is(attributeSize({ BOOL: true }), 1);
  t.is(attributeSize({ NULL: true }), 1);
  t.is(attributeSize({ L: [{ S: 'ab' }, { N: '1' }] }), 3 + (1 + 2) + (1 + 2));
  t.is(attributeSize({ M: { ab: { S: 'x' } } }), 3 + 1 + 2 + 1);
});
