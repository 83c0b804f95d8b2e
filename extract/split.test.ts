import test from 'ava';
import { MAX_IMPORT_OBJECTS } from '../load/import-preflight.ts';
import { DEFAULT_SPLIT_BYTES, MAX_RUN_PARTS, parseByteSize, planSplits, roundUpTwoDigits } from './split.ts';

const MiB = 1024 * 1024;
const table = (name: string, estimated_rows: number, size_bytes: number, primary_key = ['id']) => ({ name, primary_key, estimated_rows, size_bytes });
/** Parts a table gets at `rows` per part, as planRanges cuts it (every rows-th key a boundary). */
const partsAt = (estimated: number, rows: number | undefined) => (rows === undefined || estimated <= rows ? 1 : Math.ceil(estimated / rows));

test('a table larger than --split-bytes is cut into ceil(size / split-bytes) parts of equal rows', (t) => {
  // The bench's processing_jobs at SCALE=0.2: 200,000 rows, 123 MB on disk.
  const jobs = table('processing_jobs', 200_000, 123_494_400);
  const plan = planSplits([jobs], { splitRows: 250_000, splitBytes: 32 * MiB });
  t.is(plan.rowsPerPart.get('processing_jobs'), 50_000);
  t.is(plan.parts, 4);
  t.is(plan.grownBy, undefined);
  // Each part's share of the table is at most about split-bytes (the rows per part are rounded up to two digits).
  const rows = planSplits([table('t', 123_457, 100 * MiB)], { splitBytes: 32 * MiB }).rowsPerPart.get('t')!;
  t.is(rows, 31_000); // 123,457 / 4 = 30,865 → 31,000
  t.is(partsAt(123_457, rows), 4);
  t.true(rows * (100 * MiB / 123_457) < 32 * MiB * 1.1);
});

test('--split-rows still caps the rows, exactly as given, when it cuts finer than --split-bytes', (t) => {
  const plan = planSplits([table('users', 1_000, 10 * MiB), table('big', 10_000, 64 * MiB)], { splitRows: 7, splitBytes: 32 * MiB });
  t.is(plan.rowsPerPart.get('users'), 7);
  t.is(plan.rowsPerPart.get('big'), 7);
  // Without --split-bytes (or 0) the rows decide alone, as before it existed.
  for (const splitBytes of [undefined, 0]) {
    const rowsOnly = planSplits([table('big', 1_000_000, 10_000 * MiB)], { splitRows: 250_000, splitBytes });
    t.is(rowsOnly.rowsPerPart.get('big'), 250_000);
    t.is(rowsOnly.parts, 4);
  }
});

test('a table at most --split-bytes, without a primary key, or never analyzed stays one part', (t) => {
  const tables = [
    table('small', 200_000, 32 * MiB),
    table('heap', 1_000_000, 1_000 * MiB, []),
    table('unanalyzed', 0, 1_000 * MiB),
  ];
  const plan = planSplits(tables, { splitRows: 250_000, splitBytes: 32 * MiB });
  t.deepEqual(tables.map((x) => partsAt(x.estimated_rows, plan.rowsPerPart.get(x.name))), [1, 1, 1]);
  t.false(plan.rowsPerPart.has('heap'));
  t.false(plan.rowsPerPart.has('unanalyzed'));
  t.is(plan.parts, 3);
});

test('row counts drifting by a percent (a new ANALYZE) give the same rows per part', (t) => {
  const at = (rows: number) => planSplits([table('t', rows, 1_000 * MiB)], { splitBytes: 32 * MiB }).rowsPerPart.get('t');
  t.is(at(10_000_000), at(10_050_000));
  t.is(roundUpTwoDigits(12_345), 13_000);
  t.is(roundUpTwoDigits(13_000), 13_000);
  t.is(roundUpTwoDigits(99.2), 100);
  t.is(roundUpTwoDigits(7), 7);
});

test('the run never plans more parts than one ImportTable can read: huge tables get larger parts instead', (t) => {
  t.true(MAX_RUN_PARTS <= MAX_IMPORT_OBJECTS * 0.8, 'a fifth left for row estimates that fall short');
  // 8 TB in ten tables: 128 MiB parts would be about 60,000 item files.
  const tables = Array.from({ length: 10 }, (_, i) => table(`t${i}`, 2_000_000_000 + i * 7_777_777, 800e9 + i * 1e9));
  const wanted = planSplits(tables, { splitRows: 250_000, splitBytes: DEFAULT_SPLIT_BYTES, maxParts: Infinity });
  t.true(wanted.parts > 55_000, `${wanted.parts}`);
  const plan = planSplits(tables, { splitRows: 250_000, splitBytes: DEFAULT_SPLIT_BYTES });
  const parts = tables.reduce((n, x) => n + partsAt(x.estimated_rows, plan.rowsPerPart.get(x.name)), 0);
  t.is(parts, plan.parts);
  t.true(parts <= MAX_RUN_PARTS, `${parts}`);
  t.true(parts > MAX_RUN_PARTS * 0.99, `the parts grow no more than needed: ${parts}`);
  t.true(plan.grownBy! > 1);
  // Every table's parts grew by the same factor, so they stay balanced by size.
  for (const x of tables) t.true(plan.rowsPerPart.get(x.name)! > wanted.rowsPerPart.get(x.name)!);

  // A TABLE= rerun: the parts the run keeps of its other tables count too.
  const rerun = planSplits(tables.slice(0, 1), { splitRows: 250_000, splitBytes: DEFAULT_SPLIT_BYTES, keptParts: 39_000 });
  t.true(rerun.parts <= 1_000, `${rerun.parts}`);
  t.true(rerun.parts > 990, `${rerun.parts}`);
});

test('with more tables than parts allowed, each table is one part (the most that can be done)', (t) => {
  const tables = Array.from({ length: 30 }, (_, i) => table(`t${i}`, 1_000_000, 100 * MiB));
  const plan = planSplits(tables, { splitRows: 1_000, splitBytes: MiB, maxParts: 20 });
  t.is(plan.parts, 30);
  for (const x of tables) t.is(partsAt(x.estimated_rows, plan.rowsPerPart.get(x.name)), 1);
});

test('--split-bytes takes whole bytes or a binary suffix, and 0', (t) => {
  t.is(parseByteSize('33554432'), 32 * MiB);
  t.is(parseByteSize('32MiB'), 32 * MiB);
  t.is(parseByteSize('32M'), 32 * MiB);
  t.is(parseByteSize('32mb'), 32 * MiB);
  t.is(parseByteSize(' 1GiB '), 1024 * MiB);
  t.is(parseByteSize('512k'), 512 * 1024);
  t.is(parseByteSize('100B'), 100);
  t.is(parseByteSize('0'), 0);
  for (const bad of ['', 'abc', '1.5G', '-1', '32 MiBs', '10XB', '99999999999T']) t.is(parseByteSize(bad), undefined, bad);
});
