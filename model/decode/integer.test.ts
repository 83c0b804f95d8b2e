import test from 'ava';
import { decodeInteger } from './integer.ts';

test('integer: digits kept exactly as N', (t) => {
  t.deepEqual(decodeInteger('0'), { N: '0' });
  t.deepEqual(decodeInteger('-32768'), { N: '-32768' });
  t.deepEqual(decodeInteger('4294967295'), { N: '4294967295' }); // oid max
});

test('integer: bigint past 2^53 keeps every digit', (t) => {
  t.deepEqual(decodeInteger('9223372036854775807'), { N: '9223372036854775807' });
  t.deepEqual(decodeInteger('-9223372036854775808'), { N: '-9223372036854775808' });
  t.deepEqual(decodeInteger('9007199254740993'), { N: '9007199254740993' });
});

test('integer: text that is not an integer throws', (t) => {
  for (const text of ['', '-', '1.5', '1e3', ' 1', '+1', 'abc']) {
    t.throws(() => decodeInteger(text), { message: /not an integer/ }, text);
  }
});
