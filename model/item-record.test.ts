// buildRecord (a CSV record's bytes → its line, transform's path) against
// build (a row of strings → its line, the Parquet and catchup path): the same
// bytes, keys, size, ttl, rejects and warnings for every row, odd ones most.
import test from 'ava';
import { ByteBuffer } from '../lib/byte-buffer.ts';
import { CsvRecords, type CsvRow } from '../lib/csv-records.ts';
import type { ColumnSchema, TableEntry } from '../lib/manifest.ts';
import { defineMapper } from './entity.ts';
import { ItemBuilder, isReject } from './item.ts';

const COLUMNS: [name: string, type: string][] = [
  ['id', 'text'], ['name', 'character varying'], ['n', 'bigint'], ['b', 'boolean'], ['x', 'numeric'], ['f', 'double precision'],
  ['ts', 'timestamp with time zone'], ['t2', 'timestamp without time zone'], ['j', 'jsonb'], ['arr', 'integer[]'], ['d', 'date'],
  ['body', 'text'], ['ttl_at', 'timestamp with time zone'], ['created_at', 'timestamp with time zone'], ['updated_at', 'timestamp without time zone'],
];

const table: TableEntry = {
  name: 't', schema: 'public', table: 't', as_of: '2026-01-01T00:00:00.000000Z', snapshot_id: 's',
  columns: COLUMNS.map(([name, type]): ColumnSchema => ({ name, type, category: 'S', nullable: true })),
  primary_key: ['id'], order_by: ['id'], rows: 0, raw_bytes: 0, bytes: 0, parts: [],
};

const mapper = defineMapper({
  table: 't', entityType: 'thïng',
  key: { pk: 'T#{id}', sk: 'AT#{ts}#{name}' },
  indexes: { GSI1: { pk: 'N#{n}', sk: '{t2}' } },
  ttl: 'ttl_at',
});

const TIMES = ['2024-11-29 20:19:11.300697+00', '2024-01-02 03:04:05+00', '2024-01-02 03:04:05.1+00', '0044-03-15 00:00:00+00 BC',
  'infinity', '-infinity', '12024-01-02 03:04:05+00', '2024-01-02 03:04:05+02', '2024-01-02 03:04:05.+00', '2024-01-02 03:04:05.1234567+00',
  '2024-01-02T03:04:05+00', '0099-12-31 23:59:59+00', '2024-1-02 03:04:05+00', 'x'];
const LOCAL_TIMES = ['2024-11-29 20:19:11.300697', '2024-01-02 03:04:05', '2024-01-02 03:04:05.5', '0044-03-15 00:00:00 BC', 'infinity',
  '2024-01-02 03:04:05+00', '2024-01-02 03:04:05.', 'nope'];
const TEXTS = ['plain', '', ' ', 'a,b', 'say "hi"', 'back\\slash', 'line\nbreak', 'cr\r', 'tab\t', '\x01', '\x7f', 'é', '😀', '\u2028', 'ü"x',
  'Blood Test 2649.pdf', 'x'.repeat(300)];
const POOLS: Record<string, string[]> = {
  id: ['a', 'id-1', 'é', '"q"', 'x'.repeat(2100)],
  name: TEXTS, body: [...TEXTS, 'x'.repeat(200_000)],
  n: ['0', '-0', '007', '-12', '123456789012345678901234567890', '1.5', '', '-', '12a', '+3'],
  b: ['t', 'f', 'yes'], x: ['1.50', '1E+2', 'NaN', '-0.000', 'abc'], f: ['1.5', 'NaN', 'Infinity', '-Infinity', '1e-400', 'x'],
  ts: TIMES, ttl_at: TIMES, created_at: TIMES, t2: LOCAL_TIMES, updated_at: LOCAL_TIMES,
  j: ['{"a":1}', '[1,"x"]', '"s"', '{bad', 'null'], arr: ['{1,2,NULL}', '{}', '{x}'], d: ['2024-01-02', 'infinity'],
};

let seed = 11;
const random = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 8) % n; };

/** One record as COPY prints it: quoted when it must be (and now and then when it need not), NULL as nothing; some invalid UTF-8. */
function csvField(value: string | null): Buffer {
  if (value === null) return Buffer.alloc(0);
  const bytes = Buffer.from(value);
  const withBad = random(60) === 0 ? Buffer.concat([bytes, Buffer.from([0xff])]) : bytes;
  const quote = value === '' || /[",\n\r]/.test(value) || random(6) === 0;
  if (!quote) return withBad;
  return Buffer.concat([Buffer.from('"'), Buffer.from(withBad.toString('latin1').replaceAll('"', '""'), 'latin1'), Buffer.from('"')]);
}

function randomCsv(rows: number): Buffer {
  const parts: Buffer[] = [Buffer.from(`${COLUMNS.map(([name]) => name).join(',')}\n`)];
  for (let r = 0; r < rows; r++) {
    COLUMNS.forEach(([name], i) => {
      if (i > 0) parts.push(Buffer.from(','));
      const pool = POOLS[name]!;
      // Mostly the first (usual) value, so most rows are items and the odd values meet each other.
      const draw = random(40);
      parts.push(csvField(draw === 0 ? null : draw > 4 ? pool[0]! : pool[random(pool.length)]!));
    });
    parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** Every record of `csv` as strings, as build receives them. */
function rowsOf(csv: Buffer): CsvRow[] {
  const rows: CsvRow[] = [];
  const records = new CsvRecords();
  records.push(csv, (record) => rows.push(record.row()));
  records.end((record) => rows.push(record.row()));
  return rows;
}

test('every row gives the same line, keys, size, ttl, reject and warnings from its bytes as from its strings', (t) => {
  const csv = randomCsv(3000);
  const warnings = { rows: new Map<string, number>(), records: new Map<string, number>() };
  const count = (into: Map<string, number>) => (column: string) => into.set(column, (into.get(column) ?? 0) + 1);
  const fromRows = new ItemBuilder(mapper, table, new Map(), count(warnings.rows));
  const fromRecords = new ItemBuilder(mapper, table, new Map(), count(warnings.records));

  const rows = rowsOf(csv);

  let n = -1;
  let items = 0;
  const kinds = new Set<string>();
  const out = new ByteBuffer(16);
  const records = new CsvRecords();
  // Small chunks, so records are cut and parsed again.
  for (let at = 0; at < csv.length; at += 997) {
    records.push(csv.subarray(at, at + 997), (record) => {
      n++;
      if (n === 0) return;
      out.length = 0;
      // A key column's timestamp that PostgreSQL could not have printed throws (the unit fails): the same error both ways.
      const attempt = <T>(f: () => T): T | Error => { try { return f(); } catch (err) { return err as Error; } };
      const expected = attempt(() => fromRows.build(rows[n]!, n));
      const actual = attempt(() => fromRecords.buildRecord(record, n, out));
      if (expected instanceof Error || actual instanceof Error) {
        kinds.add('thrown');
        t.is(String(actual), String(expected), `row ${n}`);
        return;
      }
      if (isReject(expected)) {
        kinds.add(expected.reason.split(':')[0]!);
        t.deepEqual(actual, expected, `row ${n}`);
        return;
      }
      items++;
      t.false(isReject(actual), `row ${n}`);
      const { line, ...keys } = expected;
      t.deepEqual(actual, keys, `row ${n}`);
      t.is(out.buffer.subarray(0, out.length).toString('utf8'), `${line}\n`, `row ${n}`);
      t.true(out.buffer.subarray(0, out.length).equals(Buffer.from(`${line}\n`)), `row ${n}: bytes`);
    });
  }
  records.end(() => t.fail('every record ends with its newline'));
  t.is(n, rows.length - 1);
  t.deepEqual(warnings.records, warnings.rows);
  // The rows really were odd: items and rejects of several kinds both.
  t.true(items > 300, `${items} items`);

  t.true(kinds.size >= 4, [...kinds].join(' | '));
});

test('a record with a field too many or too few fails, naming the table and row', (t) => {
  const builder = new ItemBuilder(mapper, table, new Map());
  const records = new CsvRecords();
  records.push(Buffer.from('a,b\n'), (record) => {
    t.throws(() => builder.buildRecord(record, 3, new ByteBuffer()), { message: `t row 3: 2 fields where the manifest has ${COLUMNS.length} columns` });
  });
});

test('at the 400 KB limit and the key limits, an item or a reject from bytes just as from strings', async (t) => {
  const { MAX_ITEM_BYTES } = await import('./item-size.ts');
  const columns: ColumnSchema[] = [['id', 'text'], ['n', 'bigint'], ['body', 'text'], ['at', 'timestamp with time zone']]
    .map(([name, type]) => ({ name: name!, type: type!, category: 'S', nullable: true }));
  const small: TableEntry = { ...table, columns };
  const keyed = defineMapper({ table: 't', entityType: 'e', key: { pk: 'T#{id}', sk: 'S#{body}' }, ttl: 'at' });
  const unkeyed = defineMapper({ table: 't', entityType: 'e', key: { pk: 'T#{id}', sk: 'S' }, ttl: 'at' });
  let checked = 0;
  for (const mapper of [keyed, unkeyed]) {
    for (const unit of [Buffer.from('x'), Buffer.from('é'), Buffer.from([0xff]), Buffer.from('😀'), Buffer.from('""'), Buffer.from([0x7f])]) {
      const quote = unit.includes(0x22);
      for (const id of ['a', 'é'.repeat(1023), 'x'.repeat(2046)]) {
        const field = (count: number) => {
          const body = Buffer.concat(Array.from({ length: count }, () => unit));
          return quote ? Buffer.concat([Buffer.from('"'), body, Buffer.from('"')]) : body;
        };
        const builders = [new ItemBuilder(mapper, small, new Map()), new ItemBuilder(mapper, small, new Map())] as const;
        const both = (count: number) => {
          const fields = [Buffer.from(id), Buffer.from('-0012345678901234567890'), field(count), Buffer.from('2024-01-02 03:04:05.25+00')];
          const bytes = Buffer.concat([...fields.flatMap((f, i) => (i ? [Buffer.from(','), f] : [f])), Buffer.from('\n')]);
          const rows = rowsOf(bytes);
          const expected = builders[0].build(rows[0]!, 1);
          const out = new ByteBuffer(8);
          let actual: ReturnType<ItemBuilder['buildRecord']> | undefined;
          new CsvRecords().push(bytes, (record) => { actual = builders[1].buildRecord(record, 1, out); });
          if (isReject(expected)) {
            t.deepEqual(actual, expected);
          } else {
            const { line, ...keys } = expected;
            t.deepEqual(actual, keys);
            t.true(out.buffer.subarray(0, out.length).equals(Buffer.from(`${line}\n`)));
          }
          return expected;
        };
        // The size grows by the same bytes per unit: find the count whose item is exactly at the limit, then try around it.
        const sizeOf = (count: number) => {
          const r = both(count);
          return isReject(r) ? Number(/item is (\d+) bytes/.exec(r.reason)?.[1] ?? NaN) : r.size;
        };
        const base = sizeOf(0);
        const step = sizeOf(1) - base;
        if (!Number.isFinite(base) || !Number.isFinite(step)) { both(1024); both(2048); continue; }
        const at = Math.floor((MAX_ITEM_BYTES - base) / step);
        for (const count of [at - 1, at, at + 1]) { both(count); checked++; }
        // The sort key holds the body: at its limit as well.
        const skAt = Math.floor((1024 - 2) / unit.length);
        for (const count of [skAt - 1, skAt, skAt + 1]) both(count);
      }
    }
  }
  t.true(checked > 20);
});

test('a ttl in years 0001–0099 is that year\'s epoch seconds, from bytes and from strings (Date.UTC would read 1901–1999)', (t) => {
  const columns: ColumnSchema[] = [['id', 'text'], ['at', 'timestamp with time zone']]
    .map(([name, type]) => ({ name: name!, type: type!, category: 'S', nullable: true }));
  const small: TableEntry = { ...table, columns };
  const withTtl = defineMapper({ table: 't', entityType: 'e', key: { pk: 'T#{id}', sk: 'S' }, ttl: 'at' });
  // Seconds from Python's datetime (proleptic Gregorian, as PostgreSQL): (datetime(50, 3, 1, 12) - datetime(1970, 1, 1)).total_seconds().
  const cases: [string, number][] = [
    ['0001-01-01 00:00:00+00', -62135596800],
    ['0050-03-01 12:00:00.5+00', -60584155200],
    ['0099-12-31 23:59:59+00', -59011459201],
    ['0100-01-01 00:00:00+00', -59011459200],
  ];
  for (const [at, seconds] of cases) {
    const bytes = Buffer.from(`x,${at}\n`);
    const fromRow = new ItemBuilder(withTtl, small, new Map()).build(rowsOf(bytes)[0]!, 1);
    let fromRecord: ReturnType<ItemBuilder['buildRecord']> | undefined;
    new CsvRecords().push(bytes, (record) => { fromRecord = new ItemBuilder(withTtl, small, new Map()).buildRecord(record, 1, new ByteBuffer()); });
    t.is((fromRow as { ttl?: number }).ttl, seconds, at);
    t.is((fromRecord as { ttl?: number }).ttl, seconds, at);
  }
});
