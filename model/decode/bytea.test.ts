import test from 'ava';
import { decodeBytea } from './bytea.ts';

test('bytea: hex output becomes base64 B', (t) => {
  t.deepEqual(decodeBytea('\\x0a1b'), { B: 'Chs=' });
  t.deepEqual(decodeBytea('\\x00ff80'), { B: Buffer.from([0, 255, 128]).toString('base64') });
  t.deepEqual(decodeBytea('\\xDEADBEEF'), { B: '3q2+7w==' });
});

test('bytea: empty bytea is B with an empty string', (t) => {
  t.deepEqual(decodeBytea('\\x'), { B: '' });
});

test('bytea: escape-format output throws (the extract pins bytea_output=hex)', (t) => {
  t.throws(() => decodeBytea('abc\\000'), { message: /bytea_output=hex/ });
  t.throws(() => decodeBytea(''), { message: /bytea_output=hex/ });
});

test('bytea: a non-hex digit or an odd count throws', (t) => {
  t.throws(() => decodeBytea('\\x0g'), { message: /not a hex digit/ });
  t.throws(() => decodeBytea('\\x0a1'), { message: /odd number/ });
  t.throws(() => decodeBytea('\\x0a1bzz'), { message: /not a hex digit/ });
});
