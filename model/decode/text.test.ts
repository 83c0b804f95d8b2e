import test from 'ava';
import { decodeText } from './text.ts';

test('text: kept verbatim as S, padding, line breaks and Unicode included', (t) => {
  for (const text of ['', 'ab  ', '  padded  ', 'Line one\nLine two\r\n', 'Feeling 😀', 'Zoe\u0308', '\\N', 'NULL']) {
    t.deepEqual(decodeText(text), { S: text });
  }
});
