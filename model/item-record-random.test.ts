// buildRecord against build on random tables: random column types, mappers
// (joins, computed keys, stamps on any type, ttl on a timestamp or date) and CSV bytes (invalid
// UTF-8, odd timestamps, malformed records), in random chunkings: the same
// lines, keys, sizes, rejects, warnings and errors, or the same error.
import test from 'ava';
import { ByteBuffer } from '../lib/byte-buffer.ts';
import { CsvRecords, type CsvRecord } from '../lib/csv-records.ts';
import type { ColumnSchema, TableEntry } from '../lib/manifest.ts';
import { ItemBuilder, isReject, type Item } from './item.ts';
import type { Mapper } from './entity.ts';

let seed = 1;
const random = (n: number) => { seed = (seed + 0x6d2b79f5) >>> 0; let t = seed; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return (((t ^ (t >>> 14)) >>> 0) % n); };
const pick = <T>(a: T[]): T => a[random(a.length)]!;

const TYPES = ['text', 'character varying', 'bigint', 'integer', 'timestamp with time zone', 'timestamp without time zone', 'date', 'jsonb', 'numeric', 'boolean', 'double precision', 'bytea', 'integer[]', 'timestamp with time zone[]', 'timestamp(3) with time zone', 'timestamptz', 'timestamp', 'time'];
const B = (s: string | number[]) => (typeof s === 'string' ? Buffer.from(s) : Buffer.from(s));
const PIECES: Buffer[] = [
  B('a'), B('Z'), B('0'), B('7'), B('-'), B('+'), B(' '), B('.'), B(':'), B(','), B('"'), B('""'), B('\n'), B('\r'), B('\\'), B('\t'), B([0]), B([0x7f]),
  B('é'), B('😀'), B('\u2028'), B('\ufeff'), B([0xff]), B([0xe2, 0x82]), B([0xed, 0xa0, 0x80]), B([0xc0, 0x80]), B([0xf0, 0x9f]), B([0x80]), B([0xf4, 0x90, 0x80, 0x80]),
  B('T'), B('Z'), B('{'), B('}'), B('BC'), B('infinity'),
];
const STAMPS = ['2024-11-29 20:19:11.300697', '2024-01-02 03:04:05', '0000-01-01 00:00:00', '0099-12-31 23:59:59.9', '9999-12-31 23:59:59.999999', '1969-12-31 23:59:59.5', '2024-02-30 25:61:61'];
function stampValue(zoned: boolean): Buffer {
  const r = random(12);
  let s = pick(STAMPS);
  if (r === 0) s = s.slice(0, 19) + '.' + '1234567'.slice(0, random(8));
  if (zoned) s += pick(['+00', '+00', '+00', '+02', '-00', '+0', '+000', '']); else if (r === 1) s += '+00';
  if (r === 2) s += ' BC';
  if (r === 3) s = pick(['infinity', '-infinity', '12024-01-02 03:04:05+00', '12024-01-02 03:04:05']);
  if (r === 4) { const b = Buffer.from(s); b[random(b.length)] = pick(PIECES)[0]!; return b; }
  return Buffer.from(s);
}
function randomBytes(): Buffer {
  const parts: Buffer[] = [];
  if (random(400) === 0) { const p = pick(PIECES); return Buffer.concat(Array.from({ length: 1 + random(30000) }, () => p)); }
  for (let k = random(8); k > 0; k--) parts.push(pick(PIECES));
  return Buffer.concat(parts);
}
function value(type: string): Buffer | null {
  if (random(10) === 0) return null;
  if (random(4) === 0) return randomBytes();
  if (type.startsWith('timestamp') && !type.endsWith(']')) return stampValue(type.includes('with time') || type === 'timestamptz');
  if (type === 'bigint' || type === 'integer') return B(pick(['0', '-0', '007', '-12', '1234567890123456789012345678901234567890', '-', '', '1', '100', '-000', '0001000']));
  if (type === 'date') return B(pick(['2024-01-02', 'infinity', '0044-03-15 BC', '1970-01-01']));
  if (type === 'jsonb') return B(pick(['{"a":1}', '[1,"x"]', '"s"', 'null', '{"a":"\\ud800"}']));
  if (type === 'numeric') return B(pick(['1.50', '-0.000', 'NaN', '1E+2']));
  if (type === 'boolean') return B(pick(['t', 'f']));
  if (type === 'double precision') return B(pick(['1.5', 'Infinity', '-0']));
  if (type === 'bytea') return B(pick(['\\x00ff', '\\x']));
  return randomBytes();
}
function field(v: Buffer | null): Buffer {
  if (v === null) return Buffer.alloc(0);
  const must = v.length === 0 || v.includes(0x22) || v.includes(0x2c) || v.includes(0x0a) || v.includes(0x0d) || (v.length === 2 && v.toString() === '\\.');
  if (!must && random(5) !== 0) return v;
  const q = Buffer.concat([B('"'), Buffer.from(v.toString('latin1').replaceAll('"', '""'), 'latin1'), B('"')]);
  return random(1000) === 0 ? Buffer.concat([q, pick(PIECES)]) : q;
}

/** One random table, mapper and CSV: undefined when both paths agree, else what differs. */
function run(): string | undefined {
  const ncol = random(20) === 0 ? 60 + random(80) : 2 + random(8);
  const columns: ColumnSchema[] = [];
  for (let i = 0; i < ncol; i++) columns.push({ name: i === 0 ? 'id' : `c${i}${random(3) === 0 ? 'é' : ''}`, type: i === 0 ? pick(['text', 'bigint', 'timestamp with time zone']) : pick(TYPES), category: 'S', nullable: true });
  if (random(3) === 0) columns.push({ name: 'created_at', type: pick(TYPES), category: 'S', nullable: true });
  if (random(3) === 0) columns.push({ name: 'updated_at', type: pick(TYPES), category: 'S', nullable: true });
  if (random(4) === 0) { const c = columns[random(columns.length)]!; c.base_type = c.type; c.type = 'mydomain'; }
  const table: TableEntry = { name: 't', schema: 'public', table: 't', as_of: '', snapshot_id: 's', columns, primary_key: ['id'], order_by: ['id'], rows: 0, raw_bytes: 0, bytes: 0, parts: [] };
  const all = columns.map((c) => c.name);
  const instants = columns.filter((c) => /^(timestamp[^[]*|date)$/.test(c.base_type ?? c.type)).map((c) => c.name);
  const names = all.filter((n) => /^[A-Za-z_]\w*$/.test(n));
  const hname = pick(names);
  const mapper: Mapper = {
    table: 't', entityType: pick(['thing', 'thïng']),
    key: { pk: random(4) === 0 ? 'J#{jn}' : `T#{${pick(names)}}`, sk: pick([`S#{${pick(names)}}`, 'X', `{${pick(names)}}#{h}`]) },
    joins: { jn: { table: 'o', on: pick(names), match: 'm', take: 'k' } },
    computed: { h: (row) => { const v = row(hname); return v === null ? null : v.slice(0, 3); } },
    ...(random(2) ? { indexes: { GSI1: { pk: `{${pick(names)}}`, sk: `{${pick(names)}}` } } } : {}),
    // ttl takes a timestamp or date column (model/item.test.ts: any other is refused).
    ...(random(2) && instants.length > 0 ? { ttl: pick(instants) } : {}),
    ...(random(3) === 0 ? { createdAt: pick(all) } : {}),
    ...(random(3) === 0 ? { updatedAt: pick(all) } : {}),
  };
  const parts: Buffer[] = [B(all.join(',') + '\n')];
  const nrows = 1 + random(30);
  for (let r = 0; r < nrows; r++) {
    parts.push(Buffer.concat(columns.map((c, i) => Buffer.concat([i ? B(',') : Buffer.alloc(0), field(value(c.base_type ?? c.type))]))));
    if (r < nrows - 1 || random(3)) parts.push(B('\n'));
  }
  const csv = Buffer.concat(parts);
  const chunk = csv.length > 20000 ? pick([997, 65536, csv.length]) : pick([1, 2, 3, 7, 64, csv.length]);

  const outS: string[] = []; const warnS: string[] = [];
  const outB: string[] = []; const warnB: string[] = [];
  let errS = ''; let errB = '';
  const jmap = new Map<string, string | null>([['a', 'A'], ['7', null], ['é', 'É\u2028'], ['infinity', ''], ['2024-01-02 03:04:05+00', 'x']]);
  const joins = new Map([['jn', { has: (k: string) => jmap.has(k), get: (k: string) => jmap.get(k) }]]);
  const bS = new ItemBuilder(mapper, table, joins, (c, r) => warnS.push(`${c}:${r}`));
  const bB = new ItemBuilder(mapper, table, joins, (c, r) => warnB.push(`${c}:${r}`));
  const fmt = (x: any, line?: string) => JSON.stringify(x) + (line !== undefined ? ' ' + line : '');
  try {
    // The same parser, each record made strings: what build receives from a Parquet part or catchup.
    const recs = new CsvRecords(); let n = -1;
    const each = (rec: CsvRecord) => { n++; if (n > 0) { const it = bS.build(rec.row(), n); if (isReject(it)) outS.push(fmt(it)); else { const { line, ...k } = it as Item; outS.push(fmt(k, Buffer.from(line + '\n').toString('hex'))); } } };
    for (let i = 0; i < csv.length; i += chunk) recs.push(csv.subarray(i, i + chunk), each);
    recs.end(each);
  } catch (e) { errS = String(e); }
  try {
    const recs = new CsvRecords(); let n = -1; const out = new ByteBuffer(16);
    const each = (rec: any) => { n++; if (n > 0) { out.length = 0; const it = bB.buildRecord(rec, n, out); if (isReject(it)) outB.push(fmt(it)); else outB.push(fmt(it, out.buffer.subarray(0, out.length).toString('hex'))); } };
    for (let i = 0; i < csv.length; i += chunk) recs.push(csv.subarray(i, i + chunk), each);
    recs.end(each);
  } catch (e) { errB = String(e); }
  const same = errS === errB && JSON.stringify(outS) === JSON.stringify(outB) && JSON.stringify(warnS) === JSON.stringify(warnB);
  if (same) return undefined;
  let first = '';
  for (let i = 0; i < Math.max(outS.length, outB.length); i++) if (outS[i] !== outB[i]) { first = `strings: ${outS[i]}\nbytes:   ${outB[i]}`; break; }
  return [`chunk ${chunk}`, JSON.stringify(columns.map((c) => c.base_type ?? c.type)), JSON.stringify({ ...mapper, computed: undefined }),
    `csv ${JSON.stringify(csv.toString('latin1'))}`, `errors: ${errS} | ${errB}`, first, `warnings: ${warnS} | ${warnB}`].join('\n');
}

test('random tables, column types, mappers and CSV bytes (invalid UTF-8, odd timestamps, malformed records, any chunking): the same items, rejects, warnings and errors from bytes as from strings', (t) => {
  for (let i = 0; i < 600; i++) {
    const diff = run();
    if (diff) { t.fail(`table ${i}:\n${diff}`); return; }
  }
  t.pass();
});
