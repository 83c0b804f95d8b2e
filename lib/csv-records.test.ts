import test from 'ava';
import { parseString } from 'fast-csv';
import { CsvRecords, type CsvRow } from './csv-records.ts';

/**
 * COPY CSV read the plainest way, whole and character by character: the
 * oracle for CsvRecords' chunked reading of bytes. Throws the errors
 * CsvRecords throws, for the first fault in the text.
 */
function referenceRows(bytes: Buffer): CsvRow[] {
  const text = bytes.toString('utf8');
  const rows: CsvRow[] = [];
  let row: CsvRow = [];
  let i = 0;
  while (i < text.length) {
    let value: string | null = '';
    if (text[i] === '"') {
      for (i++; ; i++) {
        if (i >= text.length) throw new Error('the CSV ends inside a quoted field (the file is truncated)');
        if (text[i] !== '"') value += text[i];
        else if (text[i + 1] === '"') { value += '"'; i++; } else { i++; break; }
      }
      if (i < text.length && text[i] !== ',' && text[i] !== '\n') throw new Error(`malformed CSV: unexpected character ${JSON.stringify(String.fromCodePoint(text.codePointAt(i)!))} after a quoted field`);
    } else {
      const start = i;
      while (i < text.length && text[i] !== ',' && text[i] !== '\n') i++;
      value = i === start ? null : text.slice(start, i);
    }
    row.push(value);
    // A comma at the very end leaves one more (NULL) field, read by the next round.
    if (text[i] === ',' && i + 1 === text.length) { row.push(null); i++; }
    if (text[i++] !== ',') { rows.push(row); row = []; }
  }
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

test('the reference reading\'s rows or error, for random COPY output in any chunking, invalid UTF-8 included', (t) => {
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
      try { expected = referenceRows(bytes); } catch (err) { expected = err as Error; }
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

test('text after a closing quote is malformed, and the error names it', (t) => {
  t.throws(() => byteRows(Buffer.from('"a"é,1\n'), 100), { message: 'malformed CSV: unexpected character "é" after a quoted field' });
});

test('records wider than 64 fields', (t) => {
  const row = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? '' : `v${i}`));
  t.deepEqual(byteRows(Buffer.from(`${row.join(',')}\n`), 7), [row.map((v) => (v === '' ? null : v))]);
});

test('a character after a closing quote is named whole, however the chunks cut it', (t) => {
  for (const text of ['"a"é,1\n', '"a"€,1\n', '"a"😀,1\n', 'x,"a"é\n']) {
    const bytes = Buffer.from(text);
    for (let size = 1; size <= bytes.length; size++) {
      let expected = '';
      try { referenceRows(bytes); } catch (err) { expected = (err as Error).message; }
      t.true(expected.startsWith('malformed CSV'), expected);
      t.throws(() => byteRows(bytes, size), { message: expected }, `${text}, chunk ${size}`);
    }
  }
});

test('a character past U+FFFF after a closing quote is named whole, not as half a surrogate pair', (t) => {
  // Literal messages, not the reference reading's: an oracle that read one UTF-16 unit would agree with a parser that did.
  for (const [text, named] of [['"a"😀,1\n', '😀'], ['x,"a"𝄞\n', '𝄞'], ['"a"é,1\n', 'é'], ['"a"€\n', '€']]) {
    const bytes = Buffer.from(text!);
    for (let size = 1; size <= bytes.length; size++) {
      t.throws(() => byteRows(bytes, size), { message: `malformed CSV: unexpected character "${named}" after a quoted field` }, `${text}, chunk ${size}`);
    }
    t.throws(() => referenceRows(bytes), { message: `malformed CSV: unexpected character "${named}" after a quoted field` });
  }
});

test('a malformed record fails its chunk before any record of the chunk is handed on', (t) => {
  // A row the caller would fail on (a field too few, say) is never reached when a later record of the same chunk is
  // malformed: the error is the file's, whatever the caller checks.
  const bytes = Buffer.from('a,b\n1\n"x"y,2\n');
  const handed: string[] = [];
  const records = new CsvRecords();
  t.throws(() => records.push(bytes, (r) => { handed.push(JSON.stringify(r.row())); }), { message: 'malformed CSV: unexpected character "y" after a quoted field' });
  t.deepEqual(handed, []);
});

test('a record far longer than its chunks is read once, not again from its start at every chunk', (t) => {
  // A 32 MiB field in 64 KiB chunks: reading the record again from its start at every chunk took ~50 s (quadratic; 16 MiB 13 s), now ~0.2 s.
  // Counted in bytes read, not timed: 512 chunks each read again from the record's start would be ~256 times the bytes.
  for (const quote of ['', '"']) {
    const body = Buffer.alloc(32 * 1024 * 1024, 0x61);
    for (let i = 1000; i < body.length; i += 4096) body[i] = quote ? 0x0a : 0x22; // LFs inside the quoted field, quotes inside the plain one
    const bytes = Buffer.concat([Buffer.from(`id,b\n1,${quote}`), body, Buffer.from(`${quote}\n2,x\n`)]);
    const rows: number[] = [];
    const records = new CsvRecords();
    for (let i = 0; i < bytes.length; i += 65536) records.push(bytes.subarray(i, i + 65536), (r) => { rows.push(r.ends[1]! - r.starts[1]!); });
    records.end(() => t.fail());
    t.deepEqual(rows, [1, body.length + 2 * quote.length, 1]);
    t.true(records.scanned < 1.1 * bytes.length, `${quote ? 'quoted' : 'plain'}: ${records.scanned} bytes read for ${bytes.length}`);
  }
});

test('records cut into three chunks at every pair of offsets give the reference reading\'s rows', (t) => {
  const bytes = Buffer.concat([
    Buffer.from('id,"a ""q"", b",,x\n"","","""",""""""\n1,"line\nbreak",é😀,"é"\n'),
    Buffer.from([0x22, 0xe2, 0x82, 0x22, 0x2c, 0xff, 0x2c, 0x2c, 0x0a]),
    Buffer.from(`${Array.from({ length: 70 }, (_, i) => (i % 2 ? '' : `"${i}"`)).join(',')}\n,\n\n"x"`),
  ]);
  const expected = referenceRows(bytes);
  let cuts = 0;
  for (let i = 0; i <= bytes.length; i++) {
    for (let j = i; j <= bytes.length; j++) {
      const records = new CsvRecords();
      const rows: CsvRow[] = [];
      for (const chunk of [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]) records.push(chunk, (r) => rows.push(r.row()));
      records.end((r) => rows.push(r.row()));
      if (JSON.stringify(rows) !== JSON.stringify(expected)) t.fail(`cut at ${i} and ${j}`);
      cuts++;
    }
  }
  t.true(cuts > 10_000);
});

test('after a closing quote at a chunk\'s end, any byte fails with the error the whole file gives: the character named whole or as U+FFFD', (t) => {
  // A lead byte a UTF-8 decoder would hold back (0xC0–0xF7, continuation bytes after it so far) waits for the next
  // chunk; any other fails at once. Either way the message is the one reading the file whole gives.
  const error = (chunks: Buffer[]) => {
    const records = new CsvRecords();
    try {
      for (const chunk of chunks) records.push(chunk, () => {});
      records.end(() => {});
    } catch (err) { return (err as Error).message; }
    return 'no error';
  };
  for (let lead = 0x80; lead <= 0xff; lead++) {
    for (const more of [[], [0x80], [0x80, 0x80], [0x41]]) {
      const chunks = [Buffer.from([...Buffer.from('x\n"a"'), lead, ...more]), Buffer.from([0x80, 0x80, 0x80, 0x2c, 0x0a, 0x79, 0x0a])];
      let expected = 'no error';
      try { referenceRows(Buffer.concat(chunks)); } catch (err) { expected = (err as Error).message; }
      t.regex(expected, /^malformed CSV/);
      t.is(error(chunks), expected, `lead ${lead.toString(16)} then ${more.join(' ')}`);
    }
  }
});

test('agrees with fast-csv on generated COPY output (fast-csv reads NULL as "")', async (t) => {
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const pieces = ['a', ',', '"', '\n', '\r', ' ', 'é', '😀', '\\', 'NULL', ''];
  const rows: CsvRow[] = [];
  for (let r = 0; r < 500; r++) {
    const row: CsvRow = [];
    for (let c = 0; c < 4; c++) {
      if (random() < 0.15) { row.push(null); continue; }
      let v = '';
      for (let k = Math.floor(random() * 6); k > 0; k--) v += pieces[Math.floor(random() * pieces.length)];
      // fast-csv reads an unquoted all-whitespace field as '' (PostgreSQL does not quote it): see the test below.
      row.push(v !== '' && v.trim() === '' ? `a${v}` : v);
    }
    rows.push(row);
  }
  // Quote like PostgreSQL's CopyAttributeOutCSV: empty strings and specials are quoted.
  const text = rows.map((row) => row.map((v) => (v === null ? '' : v === '' || /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(',')).join('\n') + '\n';
  t.deepEqual(byteRows(Buffer.from(text), 97), rows);
  t.deepEqual(referenceRows(Buffer.from(text)), rows);
  const reference = await new Promise<string[][]>((resolve, reject) => {
    const out: string[][] = [];
    parseString(text, { headers: false }).on('data', (r: string[]) => out.push(r)).on('end', () => resolve(out)).on('error', reject);
  });
  t.deepEqual(reference, rows.map((row) => row.map((v) => v ?? '')));
});

test('an unquoted all-whitespace field keeps its spaces', (t) => {
  t.deepEqual(byteRows(Buffer.from(' , \t\n'), 2), [[' ', ' \t']]);
});
