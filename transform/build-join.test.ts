// buildJoin over CSV parts: the lookup a join reads, from every part whatever
// its compression, and the field-count check on each record.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { ExtractManifest, PartEntry } from '../lib/manifest.ts';
import { sha256Hex } from '../lib/meter.ts';
import { openStorage, type Storage } from '../lib/storage.ts';
import { openJoinIndex, type JoinIndex } from './join-index.ts';
import { buildJoin } from './unit.ts';

const COLUMNS = ['id', 'name', 'extra'].map((name) => ({ name, type: 'text', category: 'S', nullable: true }));

/** A run holding table `jobs` as the given CSV parts (`.gz` keys gzipped), and its extract manifest. */
async function runWith(t: { teardown: (f: () => Promise<void>) => void }, parts: [string, Buffer, number][]): Promise<[Storage, ExtractManifest]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'build-join-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const run = openStorage(dir);
  const entries: PartEntry[] = [];
  for (const [key, csv, rows] of parts) {
    const stored = key.endsWith('.gz') ? gzipSync(csv) : csv;
    await run.put(key, stored);
    entries.push({ key, rows, raw_bytes: csv.length, raw_sha256: sha256Hex(csv), bytes: stored.length, sha256: sha256Hex(stored) });
  }
  return [run, { tables: [{ name: 'jobs', columns: COLUMNS, parts: entries }] } as unknown as ExtractManifest];
}

const lookups = (index: JoinIndex, keys: string[]) => keys.map((k) => [k, index.has(k) ? index.get(k) : 'absent']);

test('keys as COPY quotes them: "" inside quotes, the empty string, multi-byte; NULL keys are left out; parts of any compression', async (t) => {
  const [run, extract] = await runWith(t, [
    ['extract/jobs/part-00000.csv', Buffer.from('id,name,extra\na,A,x\n"b""c","B",\n"",E,\n,null key,1\n'), 4],
    ['extract/jobs/part-00001.csv.gz', Buffer.from('id,name,extra\né😀,"É,1",\nz,,\n'), 2],
  ]);
  const index = openJoinIndex(await buildJoin(run, extract, 'jobs', 'id', 'name'));
  t.teardown(() => index.close());
  t.deepEqual(lookups(index, ['a', 'b"c', '', 'é😀', 'z', 'null key']), [['a', 'A'], ['b"c', 'B'], ['', 'E'], ['é😀', 'É,1'], ['z', null], ['null key', 'absent']]);
});

test('a record with fewer or more fields than the manifest\'s columns fails, naming the part and the row (never a NULL for the missing field)', async (t) => {
  for (const [csv, row, fields] of [['id,name,extra\na,A,x\nb,B\n', 2, 2], ['id,name,extra\na,A,x,y\n', 1, 4]] as const) {
    const [run, extract] = await runWith(t, [['extract/jobs/part-00003.csv', Buffer.from(csv), row]]);
    await t.throwsAsync(buildJoin(run, extract, 'jobs', 'id', 'name'), { message: new RegExp(`/extract/jobs/part-00003\\.csv \\(table jobs\\) row ${row}: ${fields} fields where the manifest has 3 columns$`) });
  }
});
