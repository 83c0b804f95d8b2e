import test from 'ava';
import type { AttributeValue } from '../attribute.ts';
import { decodeFloat } from './float.ts';

function decode(text: string): { value: AttributeValue; warnings: string[] } {
  const warnings: string[] = [];
  const value = decodeFloat(text, (reason) => warnings.push(reason));
  return { value, warnings };
}

test('float: shortest exact text kept as N, exponent form included', (t) => {
  // As PostgreSQL 15 prints them with extra_float_digits=3.
  for (const text of ['1.5', '0', '0.1', '-2.5', '1e+100', '1e-05', '1e+15', '1.2345678901234568e+20', '3.4e+38', '1e-45', '1.7976931348623157e+125']) {
    t.deepEqual(decode(text), { value: { N: text }, warnings: [] }, text);
  }
});

test('float: -0 falls back to S with a warning (DynamoDB would store 0 and lose the sign)', (t) => {
  t.deepEqual(decode('-0'), {
    value: { S: '-0' },
    warnings: ['float -0 has no DynamoDB number (DynamoDB stores 0): kept as S'],
  });
});

test('float: magnitude below 1E-130 falls back to S with a warning', (t) => {
  t.deepEqual(decode('-1.2345678901234568e-300'), {
    value: { S: '-1.2345678901234568e-300' },
    warnings: ['float with magnitude below 1E-130 does not fit a DynamoDB number: kept as S'],
  });
  t.is(decode('5e-324').warnings.length, 1);
});

test('float: magnitude above 9.99E+125 falls back to S with a warning', (t) => {
  t.deepEqual(decode('1.7976931348623157e+308'), {
    value: { S: '1.7976931348623157e+308' },
    warnings: ['float with magnitude above 9.9999999999999999999999999999999999999E+125 does not fit a DynamoDB number: kept as S'],
  });
  t.deepEqual(decode('1e+126').value, { S: '1e+126' });
});

test('float: NaN, Infinity and -Infinity fall back to S with a warning', (t) => {
  for (const text of ['NaN', 'Infinity', '-Infinity']) {
    t.deepEqual(decode(text), { value: { S: text }, warnings: [`float ${text} has no DynamoDB number: kept as S`] });
  }
});
