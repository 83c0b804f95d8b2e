import test from 'ava';
import type { AttributeValue } from '../attribute.ts';
import { decodeNumeric } from './numeric.ts';

function decode(text: string): { value: AttributeValue; warnings: string[] } {
  const warnings: string[] = [];
  const value = decodeNumeric(text, (reason) => warnings.push(reason));
  return { value, warnings };
}

test('numeric: kept as N exactly as PostgreSQL printed it, scale zeros included', (t) => {
  for (const text of ['12.50', '0', '0.00', '-0.001', '100', '99999999.99']) {
    t.deepEqual(decode(text), { value: { N: text }, warnings: [] }, text);
  }
});

test('numeric: 38 significant digits stay N', (t) => {
  const text = '1234567890123456789012345678.9012345678';
  t.deepEqual(decode(text), { value: { N: text }, warnings: [] });
});

test('numeric: 39 significant digits falls back to S with a warning', (t) => {
  const text = '1234567890123456789012345678.90123456789';
  t.deepEqual(decode(text), {
    value: { S: text },
    warnings: ['numeric with more than 38 significant digits does not fit a DynamoDB number: kept as S'],
  });
});

test('numeric: trailing zeros of the scale do not count as significant', (t) => {
  const text = '1234567890123456789012345678.901234567800000000';
  t.deepEqual(decode(text), { value: { N: text }, warnings: [] });
});

test('numeric: trailing zeros of an integer do not count as significant', (t) => {
  const text = `12345678901234567890123456789012345678${'0'.repeat(50)}`;
  t.deepEqual(decode(text), { value: { N: text }, warnings: [] });
});

test('numeric: 1e130 (too large) falls back to S with a warning', (t) => {
  const text = `1${'0'.repeat(130)}`;
  t.deepEqual(decode(text), {
    value: { S: text },
    warnings: ['numeric with magnitude above 9.9999999999999999999999999999999999999E+125 does not fit a DynamoDB number: kept as S'],
  });
});

test('numeric: 1e-131 (too small) falls back to S with a warning', (t) => {
  const text = `0.${'0'.repeat(130)}1`;
  t.deepEqual(decode(text), {
    value: { S: text },
    warnings: ['numeric with magnitude below 1E-130 does not fit a DynamoDB number: kept as S'],
  });
});

test('numeric: zero with a large scale is fine (zero has no magnitude)', (t) => {
  const text = `0.${'0'.repeat(200)}`;
  t.deepEqual(decode(text), { value: { N: text }, warnings: [] });
});

test('numeric: NaN, Infinity and -Infinity fall back to S with a warning', (t) => {
  for (const text of ['NaN', 'Infinity', '-Infinity']) {
    t.deepEqual(decode(text), { value: { S: text }, warnings: [`numeric ${text} has no DynamoDB number: kept as S`] });
  }
});

test('numeric: text that is not a number throws', (t) => {
  t.throws(() => decode('twelve'), { message: /not a decimal number/ });
  t.throws(() => decode(''), { message: /not a decimal number/ });
});
