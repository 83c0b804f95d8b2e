import test from 'ava';
import { decodeBoolean } from './boolean.ts';

test('boolean: t and f become BOOL', (t) => {
  t.deepEqual(decodeBoolean('t'), { BOOL: true });
  t.deepEqual(decodeBoolean('f'), { BOOL: false });
});

test('boolean: any other text throws (COPY prints only t and f)', (t) => {
  for (const text of ['true', 'false', 'T', '1', '', 'yes']) {
    t.throws(() => decodeBoolean(text), { message: /expected t or f/ }, text);
  }
});
