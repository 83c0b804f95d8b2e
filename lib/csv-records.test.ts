import test from 'ava';
import { StringDecoder } from 'node:string_decoder';
import { CopyCsvParser, type CsvRow } from './copy-csv.ts';
import { CsvRecords } from './csv-records.ts';

/** The rows CopyCsvParser gives for `bytes` decoded as the transform decodes a part (StringDecoder), in chunks of `size`. */
function stringRows(bytes: Buffer, size: number): CsvRow[] {
  const parser = new CopyCsvParser();
  const decoder = new StringDecoder('utf8');
  const rows: CsvRow[] = [];
  for (let i = 0; i < bytes.length; i += size) parser.push(decoder.write(bytes.subarray(i, i + size)), rows);
  parser.push(decoder.end(), rows);
  parser.end(rows);
  return rows;
}

function byteRows(bytes: Buffer, size: number): CsvRow[] {
  const records = new CsvRecords();
  const rows: CsvRow[] = [];
  for (let i = 0; i < bytes.length; i += size) records.push(bytes.subarray(i, i + size), (r) => rows.push(r.row()));
  records.end((r) => rows.push(r.row()));
  return rows;
}

test('NULL, the empty string, quotes, commas, newlines and a record without its newline', (t) => {
  const bytes = Buffer.from('a,b,c\n,"",x\n"a ""b"", c","line\nbreak","cr\r\nlf"\nx,\n\n1,2');
  t.deepEqual(byteRows(bytes, bytes.length), [['a', 'b', 'c'], [null, '', 'x'], ['a "b", c', 'line\nbreak', 'cr\r\nlf'], ['x', null], [null], ['1', '2']]);
});

test('the same rows as the string parser, for random COPY output in any chunking, invalid UTF-8 included', (t) => {
  let seed = 7;
  const random = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 8) % n; };
  const pieces = ['a', 'Z', ' ', ',', '"', '\n', '\r', 'é', '😀', '\\', '\x01', '\u2028'];
  for (let round = 0; round < 200; round++) {
    const parts: Buffer[] = [];
    const records = 1 + random(6);
    for (let r = 0; r < records; r++) {
      const fields = 1 + random(5);
      for (let f = 0; f < fields; f++) {
        if (f > 0) parts.push(Buffer.from(','));
        const kind = random(4);
        if (kind === 0) continue; // NULL
        let value = '';
        for (let k = random(6); k > 0; k--) value += pieces[random(pieces.length)];
        if (kind === 1 && !/[",\n\r]/.test(value) && value !== '') parts.push(Buffer.from(value));
        else parts.push(Buffer.from(`"${value.replaceAll('"', '""')}"`));
        // Now and then a byte that is not UTF-8, or a sequence cut short.
        if (random(8) === 0) parts.push(Buffer.from(random(2) ? [0xff] : [0xe2, 0x82]));
      }
      if (r < records - 1 || random(2)) parts.push(Buffer.from('\n'));
    }
    const bytes = Buffer.concat(parts);
    for (const size of [1, 2, 3, 5, 64, bytes.length || 1]) {
      let expected: CsvRow[] | Error;
      try { expected = stringRows(bytes, size); } catch (err) { expected = err as Error; }
      if (expected instanceof Error) {
        t.throws(() => byteRows(bytes, size), { message: expected.message }, `round ${round}, chunk ${size}`);
      } else {
        t.deepEqual(byteRows(bytes, size), expected, `round ${round}, chunk ${size}: ${JSON.stringify(bytes.toString('latin1'))}`);
      }
    }
  }
});

test('a file cut inside a quoted field is an error, not a short row', (t) => {
  t.throws(() => byteRows(Buffer.from('1,"abc'), 3), { message: /truncated/ });
});

test('text after a closing quote is malformed, named as the string parser names it', (t) => {
  t.throws(() => byteRows(Buffer.from('"a"é,1\n'), 100), { message: 'malformed CSV: unexpected character "é" after a quoted field' });
  t.throws(() => stringRows(Buffer.from('"a"é,1\n'), 100), { message: 'malformed CSV: unexpected character "é" after a quoted field' });
});

test('records wider than 64 fields', (t) => {
  const row = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? '' : `v${i}`));
  t.deepEqual(byteRows(Buffer.from(`${row.join(',')}\n`), 7), [row.map((v) => (v === '' ? null : v))]);
});
