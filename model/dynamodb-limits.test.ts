import test from 'ava';
import { numberProblem } from './dynamodb-limits.ts';

const digits38 = '12345678901234567890123456789012345678';

test('number: plain integers and decimals are storable', (t) => {
  for (const text of ['0', '-0', '1', '-42', '12.50', '0.001', '+3', '.5', '5.', '0001.23', '1e-05', '1E+100', '-17.4E37']) {
    t.is(numberProblem(text), undefined, text);
  }
});

test('number: 38 significant digits are storable, 39 are not', (t) => {
  t.is(numberProblem(digits38), undefined);
  t.is(numberProblem(`${digits38}9`), 'more than 38 significant digits');
  t.is(numberProblem(`-${digits38.slice(0, 1)}.${digits38.slice(1)}9`), 'more than 38 significant digits');
});

test('number: leading zeros are not significant', (t) => {
  t.is(numberProblem(`0.000${digits38}`), undefined);
  t.is(numberProblem(`000${digits38}`), undefined);
});

test('number: trailing zeros of a fraction are not significant (1.500 has 2 digits)', (t) => {
  t.is(numberProblem(`1.${digits38.slice(1)}000000`), undefined);
});

test('number: trailing zeros of an integer are not significant (1000 has 1 digit)', (t) => {
  t.is(numberProblem(`${digits38}000000`), undefined);
  t.is(numberProblem(`1${'0'.repeat(100)}`), undefined);
});

test('number: zeros inside the digits are significant', (t) => {
  t.is(numberProblem(`1${'0'.repeat(37)}1`), 'more than 38 significant digits');
  t.is(numberProblem(`1${'0'.repeat(36)}1`), undefined);
});

test('number: the largest magnitude is 9.99…9E+125', (t) => {
  t.is(numberProblem(`9.${'9'.repeat(37)}E+125`), undefined);
  t.is(numberProblem(`-9.${'9'.repeat(37)}E+125`), undefined);
  t.is(numberProblem('1E+126'), 'magnitude above 9.9999999999999999999999999999999999999E+125');
  t.is(numberProblem(`1${'0'.repeat(125)}`), undefined);
  t.is(numberProblem(`1${'0'.repeat(126)}`), 'magnitude above 9.9999999999999999999999999999999999999E+125');
  t.is(numberProblem(`${'9'.repeat(38)}e88`), undefined);
  t.is(numberProblem(`${'9'.repeat(38)}e89`), 'magnitude above 9.9999999999999999999999999999999999999E+125');
});

test('number: the smallest magnitude is 1E-130', (t) => {
  t.is(numberProblem('1E-130'), undefined);
  t.is(numberProblem('-1e-130'), undefined);
  t.is(numberProblem('0.1e-129'), undefined);
  t.is(numberProblem('1E-131'), 'magnitude below 1E-130');
  t.is(numberProblem(`0.${'0'.repeat(129)}1`), undefined);
  t.is(numberProblem(`0.${'0'.repeat(130)}1`), 'magnitude below 1E-130');
});

test('number: zero is storable whatever its exponent, while the exponent and scale fit 32 bits (as DynamoDB Local measures)', (t) => {
  t.is(numberProblem('0e1000'), undefined);
  t.is(numberProblem(`0.${'0'.repeat(500)}`), undefined);
  // Stored by DynamoDB Local 3.3.0:
  for (const text of ['0e2147483647', '0.0e2147483647', '0e-2147483647', '0.0e-2147483646', '-0.0e-500']) t.is(numberProblem(text), undefined, text);
  // "A value provided cannot be converted into a number": a json column holding one failed the load.
  for (const text of ['0e2147483648', '0.0e2147483648', '0e-2147483648', '0.0e-2147483647', '0e-2147483649', '-0.0e-99999999999999999999', '0e999999999999999999']) {
    t.is(numberProblem(text), 'a zero whose exponent DynamoDB cannot read', text);
  }
});

test('number: exponents too long for a double are still judged exactly', (t) => {
  t.is(numberProblem('1e99999999999999999999'), 'magnitude above 9.9999999999999999999999999999999999999E+125');
  t.is(numberProblem('1e-99999999999999999999'), 'magnitude below 1E-130');
  t.is(numberProblem('1e0000000000000000000000000125'), undefined);
});

test('number: text that is not a decimal number throws', (t) => {
  for (const text of ['', '-', '.', 'e5', '1e', '1e+', '1..2', '1.2.3', 'NaN', 'Infinity', ' 1', '1 ', '0x10', '1e5.5']) {
    t.throws(() => numberProblem(text), { message: /not a decimal number/ }, text);
  }
});
