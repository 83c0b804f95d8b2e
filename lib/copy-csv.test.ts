import test from 'ava';
import { parseString } from 'fast-csv';
import { CopyCsvParser, type CsvRow } from './copy-csv.ts';

function parseAll(text: string, chunkSize = text.length || 1): CsvRow[] {
  const parser = new CopyCsvParser();
  const rows: CsvRow[] = [];
  for (let i = 0; i < text.length; i += chunkSize) parser.push(text.slice(i, i + chunkSize), rows);
  parser.end(rows);
  return rows;
}

test('NULL is an unquoted empty field, the empty string a quoted one', (t) => {
  t.deepEqual(parseAll('a,b,c\n,"",x\n'), [['a', 'b', 'c'], [null, '', 'x']]);
});

test('quotes, commas, newlines and CR inside quoted fields', (t) => {
  t.deepEqual(parseAll('"a ""b"", c","line\nbreak","cr\r\nlf"\n'), [['a "b", c', 'line\nbreak', 'cr\r\nlf']]);
});

test('a trailing NULL field and a single-column NULL row', (t) => {
  t.deepEqual(parseAll('x,\n\n'), [['x', null], [null]]);
});

test('any chunking gives the same rows', (t) => {
  const text = 'id,v\n1,"a,""b""\nc"\n2,\n3,""\n4,"😀 é \\ \t"\n';
  const whole = parseAll(text);
  for (const size of [1, 2, 3, 5, 7, 64]) t.deepEqual(parseAll(text, size), whole, `chunk ${size}`);
});

test('an unquoted all-whitespace field keeps its spaces', (t) => {
  t.deepEqual(parseAll(' , \t\n'), [[' ', ' \t']]);
});

test('a file cut inside a quoted field is an error, not a short row', (t) => {
  t.throws(() => parseAll('1,"abc'), { message: /truncated/ });
});

test('a last record without its newline is still a record', (t) => {
  t.deepEqual(parseAll('1,2\n3,4'), [['1', '2'], ['3', '4']]);
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
  t.deepEqual(parseAll(text, 97), rows);
  const reference = await new Promise<string[][]>((resolve, reject) => {
    const out: string[][] = [];
    parseString(text, { headers: false }).on('data', (r: string[]) => out.push(r)).on('end', () => resolve(out)).on('error', reject);
  });
  t.deepEqual(reference, rows.map((row) => row.map((v) => v ?? '')));
});

test('given a number of fields, each record gives those first fields, the rest skipped (quotes, commas, newlines and all), at any chunking', (t) => {
  const text = 'id,a,b,c\n1,"x,""y""\nz",,"p\nq"\n2,,"",\n3,"","a""",last\n4\n5,"only"\n';
  for (const fields of [1, 2, 3]) {
    const parse = (size: number) => {
      const parser = new CopyCsvParser(fields);
      const rows: CsvRow[] = [];
      for (let i = 0; i < text.length; i += size) parser.push(text.slice(i, i + size), rows);
      parser.end(rows);
      return rows;
    };
    const expected = parseAll(text).map((row) => row.slice(0, fields));
    for (const size of [1, 2, 3, 5, 7, 64, text.length]) t.deepEqual(parse(size), expected, `fields ${fields}, chunk ${size}`);
  }
  const cut = new CopyCsvParser(1);
  cut.push('1,2,"open\n', []);
  t.throws(() => cut.end([]), { message: /truncated/ });
});

test('skipping the rest of each record is one pass over the text, however far the next quote is', (t) => {
  // Each record's skip searched for a quote from where it stood: with no quote in
  // the records that follow, that search ran to the end of the text, record after
  // record (a 64 KiB chunk of short rows was no faster than parsing every field;
  // 200k such rows in one push took 10 s, not 0.3). Counted here as the characters
  // indexOf passed over, so the test does not depend on the machine's speed.
  const text = `${Array.from({ length: 20_000 }, (_, i) => `${i},x,0,1,é`).join('\n')}\n9,"tail, quoted"\n`;
  const indexOf = String.prototype.indexOf;
  let scanned = 0;
  String.prototype.indexOf = function (this: string, search: string, from = 0) {
    const at = indexOf.call(this, search, from);
    scanned += (at < 0 ? this.length : at) - from;
    return at;
  };
  const rows: CsvRow[] = [];
  try {
    const parser = new CopyCsvParser(2);
    parser.push(text, rows);
    parser.end(rows);
  } finally {
    String.prototype.indexOf = indexOf;
  }
  t.is(rows.length, 20_001);
  t.deepEqual(rows[0], ['0', 'x']);
  t.deepEqual(rows.at(-1), ['9', 'tail, quoted']);
  t.true(scanned <= 3 * text.length, `indexOf passed over ${scanned} characters of a ${text.length}-character text`);
});

test('with fields, generated COPY output and every prefix of it (a file cut anywhere) give the leading fields of what a full parse gives, or the same error', (t) => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const pieces = ['a', ',', '"', '""', '\n', '\r', '\r\n', ' ', 'é', '😀', '\\', 'NULL'];
  const field = () => {
    if (random() < 0.15) return '';
    if (random() < 0.1) return '""';
    let v = '';
    for (let k = Math.floor(random() * 6); k > 0; k--) v += pieces[Math.floor(random() * pieces.length)];
    return v === '' || /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
  };
  const outcome = (text: string, fields: number, size: number) => {
    const parser = new CopyCsvParser(fields);
    const rows: CsvRow[] = [];
    try {
      for (let i = 0; i < text.length; i += size) parser.push(text.slice(i, i + size), rows);
      parser.end(rows);
      return rows;
    } catch (err) {
      return (err as Error).message;
    }
  };
  for (let n = 0; n < 150; n++) {
    const columns = 1 + Math.floor(random() * 5);
    const records = Array.from({ length: 1 + Math.floor(random() * 4) }, () => Array.from({ length: columns }, field).join(','));
    const text = `${records.join('\n')}\n`;
    for (const cut of [text.length, text.length - 1, Math.floor(random() * text.length)]) {
      const prefix = text.slice(0, cut);
      const full = outcome(prefix, Infinity, prefix.length || 1);
      for (let fields = 1; fields <= columns; fields++) {
        const expected = typeof full === 'string' ? full : full.map((row) => row.slice(0, fields));
        for (const size of [1, 3, prefix.length || 1]) t.deepEqual(outcome(prefix, fields, size), expected, `${JSON.stringify(prefix)}, fields ${fields}, chunk ${size}`);
      }
    }
  }
});
