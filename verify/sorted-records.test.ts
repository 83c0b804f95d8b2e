import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import test from 'ava';
import { RecordSorter, mergeRecords, readRecords } from './sorted-records.ts';

const RECORD = 20;

async function collect(records: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const r of records) out.push(Buffer.from(r));
  return out;
}

const inOrder = (records: Buffer[]) => [...records].sort(Buffer.compare);

test('a sorter that spills more runs than it merges at once gives every record once, in key order', async (t) => {
  // 3 records per run: 500 records make 167 runs, more than one merge pass takes.
  const sorter = new RecordSorter(RECORD, 3);
  const added = Array.from({ length: 500 }, () => randomBytes(RECORD));
  try {
    for (const r of added) sorter.add(r);
    t.is(sorter.total, 500);
    t.deepEqual(await collect(sorter.sorted()), inOrder(added));
  } finally {
    sorter.close();
  }
});

test('a sorter that never fills its buffer sorts in memory', async (t) => {
  const sorter = new RecordSorter(RECORD);
  const added = Array.from({ length: 50 }, () => randomBytes(RECORD));
  for (const r of added) sorter.add(r);
  t.deepEqual(await collect(sorter.sorted()), inOrder(added));
  sorter.close();
});

test('merging sorted streams cut at any byte gives one sorted stream; a torn record is refused by name', async (t) => {
  const a = inOrder(Array.from({ length: 40 }, () => randomBytes(RECORD)));
  const b = inOrder(Array.from({ length: 7 }, () => randomBytes(RECORD)));
  const chunked = (records: Buffer[], size: number) => {
    const all = Buffer.concat(records);
    return Readable.from(Array.from({ length: Math.ceil(all.length / size) }, (_, i) => all.subarray(i * size, (i + 1) * size)));
  };
  const merged = await collect(mergeRecords([readRecords(chunked(a, 7), RECORD, 'a'), readRecords(chunked(b, 33), RECORD, 'b')]));
  t.deepEqual(merged, inOrder([...a, ...b]));
  await t.throwsAsync(collect(readRecords(Readable.from([randomBytes(RECORD + 3)]), RECORD, 'torn.run')), { message: /torn\.run is truncated/ });
});

test('a run that cannot be written is refused naming the temp directory and TMPDIR, not as a bare ENOENT/ENOSPC', (t) => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'sorted-records-test-'));
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = base;
  try {
    const sorter = new RecordSorter(RECORD, 2);
    // The temp directory's disk goes away under the sorter (as a full one refuses the write).
    rmSync(base, { recursive: true, force: true });
    const error = t.throws(() => { for (let i = 0; i < 3; i++) sorter.add(randomBytes(RECORD)); });
    t.regex(error!.message, /^cannot write sorted records to .*sorted-records-test-.*pg2ddb-sort-.* \(ENOENT\): make it writable or point TMPDIR at a larger local disk/);
    sorter.close();
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    rmSync(base, { recursive: true, force: true });
  }
});
