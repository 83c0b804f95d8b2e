// Our Parquet writer against the maintained JavaScript writers (issue 18,
// item 5), on the contract the README states for Parquet parts: numeric(p,s)
// as DECIMAL(p,s) exactly, timestamptz as TIMESTAMP(µs, isAdjustedToUTC),
// DuckDB reads every value back equal, bounded memory, speed.
//
// Every writer gets the same rows: PostgreSQL's COPY text (UTC, ISO, hex
// bytea), converted by lib/parquet-types.ts's exact `toParquet`, then handed
// to the writer in its own input form, one row group per 8 MiB of COPY text
// (extract's PARQUET_ROW_GROUP_MB), snappy pages. Rows: EDGE_ROWS hard values
// (extreme integers and decimals, BC and pre-1970 instants, ±infinity,
// unicode, NaN numeric as text, empty bytea, NULL in every nullable column)
// written alone, then ordinary rows at ROWS and 4×ROWS. Each write runs in a
// process of its own (time and peak RSS are that writer's alone); DuckDB
// then reads each file and compares every value with the COPY text.
//
//   make bench-parquet-writers            (ROWS=100000 by default)
//
// The candidates are not dependencies of the toolkit: install them outside
// the repo, where the bench looks for them (PARQUET_WRITERS_DIR, default
// /tmp/pq-cmp):
//
//   mkdir -p /tmp/pq-cmp && cd /tmp/pq-cmp && npm init -y && \
//     npm install hyparquet-writer @dsnp/parquetjs parquet-wasm apache-arrow
//
// A candidate that is not installed is skipped, saying so. The child side is
// `parquet-writers.ts --write <writer> <first row> <rows> <file>`.
import { spawn } from 'node:child_process';
import { closeSync, createWriteStream, openSync, writeSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { ParquetWriter } from '../extract/parquet-writer.ts';
import type { ColumnSchema } from '../lib/manifest.ts';
import {
  DATE_INFINITY, PhysicalType, TIMESTAMP_INFINITY, dateText, decimalText, parquetColumn, timestampText, toParquet,
  type ParquetColumn, type ParquetValue,
} from '../lib/parquet-types.ts';
import { NODE, REPO } from './bench-db.ts';

const WRITERS_DIR = process.env.PARQUET_WRITERS_DIR || '/tmp/pq-cmp';
const ROWS = Number(process.env.ROWS || 100_000);
const ROW_GROUP_BYTES = 8 * 1024 * 1024;

const col = (name: string, type: string, category: string, nullable = true): ColumnSchema => ({ name, type, category, nullable });
const COLUMNS: ColumnSchema[] = [
  col('id', 'bigint', 'N', false),
  col('n', 'integer', 'N'),
  col('small', 'smallint', 'N'),
  col('price', 'numeric(9,4)', 'N'),
  col('amount', 'numeric(18,2)', 'N'),
  col('big', 'numeric(38,10)', 'N'),
  col('ratio', 'numeric', 'N'),
  col('at', 'timestamp with time zone', 'D'),
  col('day', 'date', 'D'),
  col('ok', 'boolean', 'B'),
  col('note', 'text', 'S'),
  col('doc', 'jsonb', 'U'),
  { ...col('tags', 'text[]', 'A'), element_type: 'text', element_category: 'S' },
  col('raw', 'bytea', 'U'),
];
const PARQUET = COLUMNS.map(parquetColumn);

/** The hard values, as COPY prints them (column order as COLUMNS). */
const EDGES: (string | null)[][] = [
  ['1', '-2147483648', '-32768', '-99999.9999', '-9999999999999999.99', '-9999999999999999999999999999.9999999999', 'NaN',
    '4713-01-01 00:00:00+00 BC', '4713-01-01 BC', 't', '😀 👩‍⚕️ Zoë', '{"n": 1.100, "big": 123456789012345678901234567890}', '{"a,b",NULL,"\\"q\\"",""}', '\\x'],
  ['2', '2147483647', '32767', '99999.9999', '9999999999999999.99', '9999999999999999999999999999.9999999999',
    '-123456789012345678901234567890.000000000000000000001', '294246-12-31 23:59:59.999999+00', '5874897-12-31', 'f', 'a\nb,"c"\\N', '[]', '{}', '\\x00ff'],
  ['3', '0', '0', '0.0000', '0.00', '0.0000000000', '0', '1969-12-31 23:59:59.999999+00', '1969-12-31', 't', '', 'null', '{NULL}', '\\xdeadbeef'],
  ['4', '-1', '-1', '0.0001', '-0.01', '0.0000000001', '1e-5', 'infinity', 'infinity', 'f', 'NULL', '{"a": [1, {"b": null}]}', '{x}', '\\x00'],
  ['5', null, null, null, null, null, null, '-infinity', '-infinity', null, null, null, null, null],
  ['6', '7', '7', '-0.5000', '12.50', '-1.0000000000', '3.14159', '2000-02-29 00:00:00.000001+00', '2000-02-29', 't', 'x', '{}', '{1,2}', '\\x7f80'],
];
const EDGE_ROWS = EDGES.length;

/** An ordinary row (index ≥ EDGE_ROWS): deterministic, a NULL now and then in every nullable column. */
function ordinaryRow(i: number): (string | null)[] {
  let x = Math.imul(i + 1, 2654435761) >>> 0;
  const next = () => (x = (Math.imul(x ^ (x >>> 15), 2246822519) + 0x9e3779b9) >>> 0);
  const nul = (k: number) => (i + k) % 11 === 0;
  const micros = 1_577_836_800_000_000n + BigInt(i) * 37_123_457n + BigInt(next() % 1000);
  return [
    String(i + 1),
    nul(1) ? null : String((next() | 0)),
    nul(2) ? null : String((next() % 65536) - 32768),
    nul(3) ? null : decimalText(BigInt(next() % 999_999_999) - 499_999_999n, 4),
    nul(4) ? null : decimalText(BigInt(next()) * 1_000_003n - 2_000_000_000_000n, 2),
    nul(5) ? null : decimalText((BigInt(next()) << 64n) * (i % 2 ? -1n : 1n) + BigInt(next()), 10),
    nul(6) ? null : `${next() % 100_000}.${next() % 1000}`,
    nul(7) ? null : timestampText(micros),
    nul(8) ? null : dateText(18_000 + (next() % 5000)),
    nul(9) ? null : next() % 2 ? 't' : 'f',
    nul(10) ? null : `row ${i}: ${'ab cd é 😀 '.repeat(1 + (next() % 12))}`,
    nul(0) ? null : `{"id": ${i}, "kind": "k${next() % 50}", "score": ${next() % 1000}.25, "tags": ["x", "y"]}`,
    nul(1) ? null : `{t${next() % 20},"u v",NULL}`,
    nul(2) ? null : `\\x${(next() >>> 0).toString(16).padStart(8, '0')}${(next() >>> 0).toString(16).padStart(8, '0')}`,
  ];
}

const rowAt = (i: number) => (i < EDGE_ROWS ? EDGES[i]! : ordinaryRow(i));
const textBytes = (row: (string | null)[]) => row.reduce((n, f) => n + (f?.length ?? 0) + 1, 0);

// ----- The writers (child side) -----

interface Sink { addRow(fields: (string | null)[]): void | Promise<void>; finish(): Promise<void> }
interface Candidate { packages: string[]; open(file: string): Promise<Sink> }

/** Imports a package installed in WRITERS_DIR (outside the repo). */
async function load(pkg: string): Promise<any> {
  const mod = await import(pathToFileURL(createRequire(path.join(WRITERS_DIR, 'package.json')).resolve(pkg)).href);
  return mod.default && Object.keys(mod).length <= 2 ? mod.default : mod;
}

/** Rows held until their COPY text reaches a row group: the writers that take a row group's columns at once. */
function batched(write: (rows: (string | null)[][]) => void | Promise<void>, finish: () => Promise<void>): Sink {
  let rows: (string | null)[][] = [];
  let bytes = 0;
  return {
    async addRow(fields) {
      rows.push(fields);
      bytes += textBytes(fields);
      if (bytes >= ROW_GROUP_BYTES) { await write(rows); rows = []; bytes = 0; }
    },
    async finish() { if (rows.length) await write(rows); await finish(); },
  };
}

const values = (rows: (string | null)[][], c: number): (ParquetValue | null)[] =>
  rows.map((r) => (r[c] === null ? null : toParquet(PARQUET[c]!, r[c]!)));

/** A DECIMAL's unscaled value as `width` big-endian two's-complement bytes. */
function fixedBytes(value: bigint, width: number): Buffer {
  const out = Buffer.alloc(width);
  let v = BigInt.asUintN(8 * width, value);
  for (let i = width - 1; i >= 0; i--) { out[i] = Number(v & 0xffn); v >>= 8n; }
  return out;
}

const CANDIDATES: Record<string, Candidate> = {
  ours: {
    packages: [],
    async open(file) {
      const fd = openSync(file, 'w');
      const writer = new ParquetWriter(PARQUET, { compression: 'snappy', rowGroupBytes: ROW_GROUP_BYTES }, (b) => { writeSync(fd, b); });
      return { addRow: (fields) => writer.addRow(fields), async finish() { writer.finish(); closeSync(fd); } };
    },
  },

  'hyparquet-writer': {
    packages: ['hyparquet-writer'],
    async open(file) {
      const { ParquetWriter: Writer, fileWriter } = await load('hyparquet-writer');
      const element = (c: ParquetColumn): Record<string, unknown> => {
        const base = { name: c.name, repetition_type: c.required ? 'REQUIRED' : 'OPTIONAL' };
        switch (c.kind) {
          case 'int16': return { ...base, type: 'INT32', converted_type: 'INT_16' };
          case 'int32': return { ...base, type: 'INT32' };
          case 'int64': return { ...base, type: 'INT64' };
          case 'decimal': return {
            ...base, type: { [PhysicalType.INT32]: 'INT32', [PhysicalType.INT64]: 'INT64' }[c.physical] ?? 'FIXED_LEN_BYTE_ARRAY', type_length: c.width,
            converted_type: 'DECIMAL', precision: c.precision, scale: c.scale, logical_type: { type: 'DECIMAL', precision: c.precision, scale: c.scale },
          };
          case 'timestamptz': return { ...base, type: 'INT64', converted_type: 'TIMESTAMP_MICROS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } };
          case 'date': return { ...base, type: 'INT32', converted_type: 'DATE' };
          case 'boolean': return { ...base, type: 'BOOLEAN' };
          case 'bytea': return { ...base, type: 'BYTE_ARRAY' };
          case 'text': return { ...base, type: 'BYTE_ARRAY', converted_type: 'UTF8' };
        }
      };
      const writer = new Writer({ writer: fileWriter(file), schema: [{ name: 'root', num_children: PARQUET.length }, ...PARQUET.map(element)], codec: 'SNAPPY' });
      return batched((rows) => {
        const columnData = PARQUET.map((c, i) => ({
          name: c.name,
          // DECIMAL and INT64 as bigint (exact); text as the string, UTF-8 encoded by the writer; BOOLEAN as true/false.
          data: c.kind === 'text' ? rows.map((r) => r[i]) : values(rows, i).map((v) => (c.kind === 'boolean' && v !== null ? v === 1 : v)),
        }));
        return writer.write({ columnData, rowGroupSize: rows.length });
      }, async () => { writer.finish(); });
    },
  },

  '@dsnp/parquetjs': {
    packages: ['@dsnp/parquetjs'],
    async open(file) {
      const { ParquetSchema, ParquetWriter: Writer } = await load('@dsnp/parquetjs');
      const TYPE = { int16: 'INT_16', int32: 'INT32', int64: 'INT64', timestamptz: 'TIMESTAMP_MICROS', date: 'DATE', boolean: 'BOOLEAN', bytea: 'BYTE_ARRAY', text: 'UTF8', decimal: 'DECIMAL' } as const;
      const schema = new ParquetSchema(Object.fromEntries(PARQUET.map((c) => [c.name, {
        type: TYPE[c.kind], optional: !c.required, compression: 'SNAPPY',
        // p ≤ 18: INT64; wider: FIXED_LEN_BYTE_ARRAY of the caller's bytes.
        ...(c.kind === 'decimal' ? { precision: c.precision, scale: c.scale, ...(c.width ? { typeLength: c.width } : {}) } : {}),
      }])));
      const writer = await Writer.openFile(schema, file, { rowGroupSize: Number.MAX_SAFE_INTEGER });
      let bytes = 0;
      return {
        async addRow(fields) {
          const row: Record<string, unknown> = {};
          for (const [i, c] of PARQUET.entries()) {
            if (fields[i] === null) continue;
            const v = c.kind === 'text' ? fields[i] : toParquet(c, fields[i]!);
            // Its INT64 DECIMAL takes only a JS number and scales it through float64: the text as a number is all it can be given.
            row[c.name] = c.kind === 'decimal' ? (c.width ? fixedBytes(v as bigint, c.width) : Number(fields[i])) : c.kind === 'boolean' ? v === 1 : v;
          }
          bytes += textBytes(fields);
          // It cuts row groups by row count only: ask for a cut when the COPY text reaches the budget.
          writer.setRowGroupSize(bytes >= ROW_GROUP_BYTES ? 1 : Number.MAX_SAFE_INTEGER);
          if (bytes >= ROW_GROUP_BYTES) bytes = 0;
          await writer.appendRow(row);
        },
        finish: () => writer.close(),
      };
    },
  },

  'parquet-wasm': {
    packages: ['parquet-wasm/node', 'apache-arrow'],
    async open(file) {
      const wasm = await load('parquet-wasm/node');
      const arrow = await load('apache-arrow');
      const type = (c: ParquetColumn) => {
        switch (c.kind) {
          case 'int16': return new arrow.Int16();
          case 'int32': return new arrow.Int32();
          case 'int64': return new arrow.Int64();
          case 'decimal': return new arrow.Decimal(c.scale, c.precision, 128);
          case 'timestamptz': return new arrow.TimestampMicrosecond('UTC');
          case 'date': return new arrow.DateDay();
          case 'boolean': return new arrow.Bool();
          case 'bytea': return new arrow.Binary();
          case 'text': return new arrow.Utf8();
        }
      };
      const schema = new arrow.Schema(PARQUET.map((c) => new arrow.Field(c.name, type(c), !c.required)));
      /** One Arrow column of a row group, built from the exact values (Decimal128 as four little-endian 32-bit words). */
      const data = (c: ParquetColumn, vs: (ParquetValue | null)[]) => {
        const n = vs.length;
        const nullBitmap = new Uint8Array(Math.ceil(n / 8));
        let nullCount = 0;
        vs.forEach((v, i) => (v === null ? nullCount++ : (nullBitmap[i >> 3]! |= 1 << (i & 7))));
        const base = { type: type(c), length: n, nullCount, nullBitmap };
        if (c.kind === 'bytea' || c.kind === 'text') {
          const offsets = new Int32Array(n + 1);
          const bufs = vs.map((v) => (v ?? Buffer.alloc(0)) as Buffer);
          bufs.forEach((b, i) => (offsets[i + 1] = offsets[i]! + b.length));
          return arrow.makeData({ ...base, valueOffsets: offsets, data: Buffer.concat(bufs) });
        }
        if (c.kind === 'boolean') {
          const bits = new Uint8Array(Math.ceil(n / 8));
          vs.forEach((v, i) => v && (bits[i >> 3]! |= 1 << (i & 7)));
          return arrow.makeData({ ...base, data: bits });
        }
        if (c.kind === 'decimal') {
          const words = new BigInt64Array(2 * n);
          vs.forEach((v, i) => { const u = BigInt.asUintN(128, BigInt((v ?? 0) as bigint | number)); words[2 * i] = BigInt.asIntN(64, u); words[2 * i + 1] = BigInt.asIntN(64, u >> 64n); });
          return arrow.makeData({ ...base, data: new Uint32Array(words.buffer) });
        }
        if (c.kind === 'int64' || c.kind === 'timestamptz') return arrow.makeData({ ...base, data: BigInt64Array.from(vs, (v) => BigInt((v ?? 0) as bigint)) });
        const ints = vs.map((v) => Number(v ?? 0));
        return arrow.makeData({ ...base, data: c.kind === 'int16' ? Int16Array.from(ints) : Int32Array.from(ints) });
      };
      // Record batches go through transformParquetStream one at a time, so the file streams out as it is written.
      // It has no flush: its row groups close at a row count, here the first batch's (8 MiB of COPY text).
      const queue: unknown[] = [];
      let ended = false;
      let wake: (() => void) | undefined;
      let taken: (() => void) | undefined;
      let piped: Promise<void> | undefined;
      const input = new ReadableStream({
        async pull(controller) {
          while (!queue.length && !ended) await new Promise<void>((r) => (wake = r));
          if (queue.length) { controller.enqueue(queue.shift()); taken?.(); } else controller.close();
        },
      }, { highWaterMark: 0 });
      return batched(async (rows) => {
        // Started on the first batch, not awaited: it resolves only once it has pulled that batch (for the schema).
        piped ??= wasm.transformParquetStream(input, new wasm.WriterPropertiesBuilder().setCompression(wasm.Compression.SNAPPY).setMaxRowGroupSize(rows.length).build())
          .then((output: ReadableStream) => output.pipeTo(Writable.toWeb(createWriteStream(file))));
        const batch = new arrow.RecordBatch(schema, arrow.makeData({ type: new arrow.Struct(schema.fields), length: rows.length, nullCount: 0, children: PARQUET.map((c, i) => data(c, values(rows, i))) }));
        const table = wasm.Table.fromIPCStream(arrow.tableToIPC(new arrow.Table(schema, batch), 'stream'));
        queue.push(...table.recordBatches());
        wake?.();
        while (queue.length) await new Promise<void>((r) => (taken = r));
      }, async () => { ended = true; wake?.(); await piped; });
    },
  },
};

async function child(name: string, first: number, count: number, file: string): Promise<void> {
  const started = performance.now();
  const sink = await CANDIDATES[name]!.open(file);
  for (let i = first; i < first + count; i++) await sink.addRow(rowAt(i));
  await sink.finish();
  process.stdout.write(JSON.stringify({ seconds: (performance.now() - started) / 1000, rssMb: process.resourceUsage().maxRSS / 1024 }));
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--write') {
  const [name, first, count, file] = process.argv.slice(3);
  await child(name!, Number(first), Number(count), file!);
  process.exit(0);
}

// ----- The comparison (parent side) -----

interface Run { seconds: number; rssMb: number; bytes: number }

function runChild(name: string, first: number, count: number, file: string): Promise<Run | { error: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE[0]!, [...NODE.slice(1), fileURLToPath(import.meta.url), '--write', name, String(first), String(count), file], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', async (code) => {
      if (code !== 0) return resolve({ error: (err.split('\n').find((l) => /^\w*Error\b/.test(l)) ?? err.trim().split('\n').pop() ?? `exit ${code}`).trim().slice(0, 160) });
      resolve({ ...JSON.parse(out), bytes: (await stat(file)).size });
    });
  });
}

/** What DuckDB must read: each value canonical (instants as epoch µs, dates as days, bytes as hex), ±infinity by name. */
function expected(c: ParquetColumn, text: string | null): string | null {
  if (text === null) return null;
  switch (c.kind) {
    case 'timestamptz': { const v = toParquet(c, text) as bigint; return v === TIMESTAMP_INFINITY ? 'infinity' : v === -TIMESTAMP_INFINITY ? '-infinity' : String(v); }
    case 'date': { const v = toParquet(c, text) as number; return v === DATE_INFINITY ? 'infinity' : v === -DATE_INFINITY ? '-infinity' : String(v); }
    case 'boolean': return text === 't' ? 'true' : 'false';
    case 'bytea': return text.slice(2);
    default: return text;
  }
}
const WANT_DUCK_TYPE: Record<string, (c: ParquetColumn) => string> = {
  int16: () => 'SMALLINT', int32: () => 'INTEGER', int64: () => 'BIGINT', decimal: (c) => `DECIMAL(${c.precision},${c.scale})`,
  timestamptz: () => 'TIMESTAMP WITH TIME ZONE', date: () => 'DATE', boolean: () => 'BOOLEAN', bytea: () => 'BLOB', text: () => 'VARCHAR',
};
const UTC_MICROS = /^TimestampType\(isAdjustedToUTC=(1|true), unit=TimeUnit\(MILLIS=<null>, MICROS=MicroSeconds\(\), NANOS=<null>\)\)$/;

interface Check { wrongType: string[]; utcMicros: boolean; mismatches: Map<string, { count: number; first: string }>; values: number; rowGroups: number }

async function check(file: string, first: number, count: number): Promise<Check> {
  const instance = await DuckDBInstance.create(':memory:');
  const duck = await instance.connect();
  const at = `'${file.replace(/'/g, "''")}'`;
  try {
    const types = new Map((await duck.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${at})`)).getRows().map((r) => [String(r[0]), String(r[1])]));
    const wrongType = PARQUET.filter((c) => types.get(c.name) !== WANT_DUCK_TYPE[c.kind]!(c)).map((c) => `${c.name} ${types.get(c.name)}`);
    const logical = (await duck.runAndReadAll(`SELECT logical_type FROM parquet_schema(${at}) WHERE name = 'at'`)).getRows()[0]?.[0];
    const rowGroups = Number((await duck.runAndReadAll(`SELECT count(DISTINCT row_group_id) FROM parquet_metadata(${at})`)).getRows()[0]![0]);
    const select = PARQUET.map((c) => {
      const q = `"${c.name}"`;
      const t = types.get(c.name) ?? '';
      if (t.startsWith('TIMESTAMP')) return `CASE WHEN isfinite(${q}) THEN epoch_us(${q})::VARCHAR ELSE ${q}::VARCHAR END`;
      if (t === 'DATE') return `CASE WHEN isfinite(${q}) THEN (${q} - DATE '1970-01-01')::VARCHAR ELSE ${q}::VARCHAR END`;
      if (t === 'BLOB') return `lower(hex(${q}))`;
      return `${q}::VARCHAR`;
    });
    const result = await duck.stream(`SELECT ${select.join(', ')} FROM read_parquet(${at}, file_row_number = true) ORDER BY file_row_number`);
    const mismatches = new Map<string, { count: number; first: string }>();
    let i = first;
    let values = 0;
    for await (const rows of result.yieldRows()) {
      for (const row of rows) {
        const want = rowAt(i);
        for (const [k, c] of PARQUET.entries()) {
          const got = row[k] === null ? null : String(row[k]);
          const w = expected(c, want[k]!);
          values++;
          if (got === w) continue;
          const m = mismatches.get(c.name) ?? { count: 0, first: `row ${i + 1}: read ${JSON.stringify(got)}, wrote ${JSON.stringify(w)}` };
          m.count++;
          mismatches.set(c.name, m);
        }
        i++;
      }
    }
    if (i !== first + count) mismatches.set('(rows)', { count: Math.abs(first + count - i), first: `DuckDB read ${i - first} rows of ${count}` });
    return { wrongType, utcMicros: UTC_MICROS.test(String(logical)), mismatches, values, rowGroups };
  } finally {
    duck.closeSync();
    instance.closeSync();
  }
}

function installed(candidate: Candidate): boolean {
  const require = createRequire(path.join(WRITERS_DIR, 'package.json'));
  return candidate.packages.every((p) => { try { require.resolve(p); return true; } catch { return false; } });
}

const r2 = (n: number) => Math.round(n * 100) / 100;
const log = (message: string) => process.stderr.write(`bench/parquet-writers: ${message}\n`);
const describe = (c: Check | { error: string }) =>
  'error' in c ? `refused: ${c.error}` : c.mismatches.size ? [...c.mismatches].map(([name, m]) => `${name} ×${m.count} (${m.first})`).join('; ') : `all ${c.values} equal`;

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] !== '--write') {
  const dir = path.join(os.tmpdir(), `pg2ddb-parquet-writers-${process.pid}`);
  await mkdir(dir, { recursive: true });
  const table: string[] = [];
  const notes: string[] = [];
  const DECIMALS = PARQUET.filter((c) => c.kind === 'decimal').map((c) => c.name);
  const yes = (ok: boolean, why: string) => (ok ? 'yes' : `**no**${why ? `: ${why}` : ''}`);
  for (const [name, candidate] of Object.entries(CANDIDATES)) {
    if (!installed(candidate)) {
      log(`${name}: skipped, not installed in ${WRITERS_DIR} (mkdir -p ${WRITERS_DIR} && cd ${WRITERS_DIR} && npm init -y && npm install ${candidate.packages.map((p) => p.replace(/\/node$/, '')).join(' ')})`);
      table.push(`| ${name} | not installed in ${WRITERS_DIR} | | | | | | |`);
      continue;
    }
    const file = (what: string) => path.join(dir, `${name.replace(/\W/g, '_')}-${what}.parquet`);
    const edgeRun = await runChild(name, 0, EDGE_ROWS, file('edges'));
    const edges = 'error' in edgeRun ? edgeRun : await check(file('edges'), 0, EDGE_ROWS);
    const small = await runChild(name, EDGE_ROWS, ROWS, file('rows'));
    const rows = 'error' in small ? small : await check(file('rows'), EDGE_ROWS, ROWS);
    const large = 'error' in small ? small : await runChild(name, EDGE_ROWS, 4 * ROWS, file('rows4'));
    notes.push(`- ${name}: hard values: ${describe(edges)}; ${ROWS} rows: ${describe(rows)}${'error' in rows || !rows.wrongType.length ? '' : `; DuckDB types ${rows.wrongType.join(', ')}`}`);
    log(notes.at(-1)!.slice(2));
    const bad = (c: Check | { error: string }, names: string[]) => 'error' in c || names.some((n) => c.mismatches.has(n) || c.wrongType.some((t) => t.startsWith(`${n} `)));
    const decimalWhy = 'error' in rows ? rows.error : [...rows.wrongType.filter((t) => DECIMALS.some((n) => t.startsWith(`${n} `))), ...DECIMALS.filter((n) => rows.mismatches.has(n)).map((n) => `${n} values differ`)].join(', ');
    const tsWhy = 'error' in rows ? rows.error : !rows.utcMicros ? 'no TIMESTAMP(isAdjustedToUTC, MICROS) logical type' : 'at read back differently';
    const equalWhy = 'error' in edges ? 'refuses hard values' : edges.mismatches.size || ('error' in rows ? 0 : rows.mismatches.size) ? 'values differ' : '';
    const ok = !('error' in small) && !('error' in large);
    table.push(`| ${name} | ${yes(!bad(rows, DECIMALS) && !bad(edges, DECIMALS), decimalWhy)} | ${yes(!('error' in rows) && rows.utcMicros && !bad(rows, ['at']), tsWhy)} | ${yes(!equalWhy, equalWhy)} | ${
      ok ? `${r2(small.rssMb)} → ${r2(large.rssMb)}` : ''} | ${ok ? `${r2(small.seconds)} / ${r2(large.seconds)}` : ''} | ${ok ? r2(large.bytes / 1e6) : ''} | ${'error' in rows ? '' : rows.rowGroups} |`);
  }
  await rm(dir, { recursive: true, force: true });
  process.stdout.write([
    `# Parquet writers (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, node ${process.version}): ${EDGE_ROWS} rows of hard values, then ${ROWS} and ${4 * ROWS} ordinary rows of ${COLUMNS.length} columns; snappy, a row group per 8 MiB of COPY text`,
    '',
    `| writer | numeric(p,s) → DECIMAL(p,s), exact | timestamptz → TIMESTAMP(µs, UTC) | DuckDB reads every value equal | peak RSS MB, ${ROWS} → ${4 * ROWS} rows | write s, ${ROWS} / ${4 * ROWS} rows | MB, ${4 * ROWS} rows | row groups, ${ROWS} rows |`,
    '|---|---|---|---|---:|---:|---:|---:|',
    ...table,
    '',
    ...notes,
    '',
  ].join('\n'));
}
