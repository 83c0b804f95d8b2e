// Join indexes kept in the run: built once, then copied by every later process
// (a shard, a rerun) without reading the joined table; a copy that does not
// match what was kept, or one kept for other inputs, is built again.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ExtractManifest, PartEntry } from '../lib/manifest.ts';
import { sha256Hex } from '../lib/meter.ts';
import { openStorage, type Storage } from '../lib/storage.ts';
import { JoinCache } from './join-cache.ts';
import { JoinIndexBuilder, readJoinIndexFile, type JoinIndex } from './join-index.ts';
import { JOINS_PREFIX, joinFingerprint, keptJoinKeys, keptJoinRecord } from './join-store.ts';

const COLUMNS = ['id', 'name'].map((name) => ({ name, type: 'text', category: 'S', nullable: true }));
const ROWS = 5000;
const csv = (suffix = '') => Buffer.from(`id,name\n${Array.from({ length: ROWS }, (_, i) => `k${i},"name ${i}${suffix}"\n`).join('')}`);

/** A local run holding table `jobs` as one CSV part, with its extract manifest. */
async function runWith(t: { teardown: (f: () => Promise<void>) => void }, bytes = csv()): Promise<{ dir: string; run: Storage; extract: ExtractManifest }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'join-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const run = openStorage(dir);
  const key = 'extract/jobs/part-00000.csv';
  await run.put(key, bytes);
  const part: PartEntry = { key, rows: ROWS, raw_bytes: bytes.length, raw_sha256: sha256Hex(bytes), bytes: bytes.length, sha256: sha256Hex(bytes) } as PartEntry;
  return { dir, run, extract: { tables: [{ name: 'jobs', columns: COLUMNS, parts: [part] }] } as unknown as ExtractManifest };
}

async function lookup(run: Storage, extract: ExtractManifest, { rebuild = false } = {}): Promise<{ values: (string | null | undefined)[]; log: string[] }> {
  const log: string[] = [];
  const cache = new JoinCache(run, extract, undefined, undefined, (m) => log.push(m), rebuild);
  try {
    const index: JoinIndex = await cache.get('jobs', 'id', 'name');
    return { values: ['k0', 'k2500', `k${ROWS - 1}`, 'nope'].map((k) => index.get(k)), log };
  } finally {
    await cache.close();
  }
}

const WANT = ['name 0', 'name 2500', `name ${ROWS - 1}`, undefined];

test('the first process builds the index and keeps it; the next copies it without reading the joined table', async (t) => {
  const { dir, run, extract } = await runWith(t);
  const first = await lookup(run, extract);
  t.deepEqual(first.values, WANT);
  t.regex(first.log.join('\n'), /built and kept in the run/);
  const keys = keptJoinKeys({ table: 'jobs', match: 'id', take: 'name' });
  const about = JSON.parse(await readFile(path.join(dir, keys.about), 'utf8'));
  t.is(about.entries, ROWS);
  t.is(about.sha256, sha256Hex(readFileSync(path.join(dir, keys.index))));
  // The joined table spoiled (same size, other bytes): a process that read it would fail on its sha256.
  await writeFile(path.join(dir, 'extract/jobs/part-00000.csv'), Buffer.alloc(csv().length, 0x78));
  const second = await lookup(run, extract);
  t.deepEqual(second.values, WANT);
  t.regex(second.log.join('\n'), /from the index kept in the run/);
  // --force builds it again (and so reads the spoiled table).
  await t.throwsAsync(lookup(run, extract, { rebuild: true }), { message: /does not match the extract manifest's sha256/ });
});

test('an index kept for other inputs, or whose copy does not match what was kept, is built again', async (t) => {
  const { dir, run, extract } = await runWith(t);
  await lookup(run, extract);
  const keys = keptJoinKeys({ table: 'jobs', match: 'id', take: 'name' });

  // A byte of the kept index changed: its sha256 no longer matches; the process builds its own.
  const file = path.join(dir, keys.index);
  const bytes = await readFile(file);
  bytes[bytes.length - 2] ^= 1;
  await writeFile(file, bytes);
  const damaged = await lookup(run, extract);
  t.deepEqual(damaged.values, WANT);
  t.regex(damaged.log.join('\n'), /cannot be used \(.*sha256.*\): building it again/);
  t.regex(damaged.log.join('\n'), /built and kept/);

  // The joined table extracted again with other values: the kept index is of other inputs.
  const other = csv(' (new)');
  await run.put('extract/jobs/part-00000.csv', other);
  const part = extract.tables[0]!.parts[0]!;
  const newer = { tables: [{ ...extract.tables[0]!, parts: [{ ...part, bytes: other.length, raw_bytes: other.length, sha256: sha256Hex(other), raw_sha256: sha256Hex(other) }] }] } as unknown as ExtractManifest;
  const rebuilt = await lookup(run, newer);
  t.deepEqual(rebuilt.values, WANT.map((v) => v && `${v} (new)`));
  t.regex(rebuilt.log.join('\n'), /built from other inputs or another transform code version: building it again/);
  t.regex(rebuilt.log.join('\n'), /built and kept/);
});

test('the block index read back from a kept file is the one the builder made (many blocks, one, none)', (t) => {
  for (const count of [20_000, 3, 0]) {
    const builder = new JoinIndexBuilder('test', 64 * 1024);
    for (let i = 0; i < count; i++) builder.add(`key ${String(i).padStart(6, '0')} ${'é'.repeat(i % 7)}`, i % 5 === 0 ? null : `value ${i}`);
    const built = builder.build();
    const read = readJoinIndexFile(built.path);
    t.is(read.entries, count);
    for (const field of ['firstKeys', 'firstKeyAt', 'blockAt'] as const) t.deepEqual(Buffer.from(read[field]), Buffer.from(built[field]), `${count} entries: ${field}`);
    builder.discard();
  }
});

test('a file whose blocks do not tile it is refused', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'join-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const builder = new JoinIndexBuilder('test');
  for (let i = 0; i < 1000; i++) builder.add(`k${i}`, `v${i}`);
  const built = builder.build();
  const bytes = readFileSync(built.path);
  builder.discard();
  const cut = path.join(dir, 'cut');
  await writeFile(cut, bytes.subarray(0, bytes.length - 10));
  t.throws(() => readJoinIndexFile(cut), { message: /is not a join index: the block at \d+ has offsets outside it|ended inside/ });
});

test('a kept .json that is valid JSON but no object (null, a number) is built again, not a TypeError', async (t) => {
  const { dir, run, extract } = await runWith(t);
  await lookup(run, extract);
  const keys = keptJoinKeys({ table: 'jobs', match: 'id', take: 'name' });
  for (const text of ['null', '7', '"x"', '[]', '{"fingerprint":null}']) {
    await writeFile(path.join(dir, keys.about), text);
    const again = await lookup(run, extract);
    t.deepEqual(again.values, WANT, text);
    t.regex(again.log.join('\n'), /built and kept/, text);
  }
});

test.serial('an index that cannot be kept (the store refuses its put) is still used, and its built file is not left in the temp dir', async (t) => {
  const { run, extract } = await runWith(t);
  // The store refuses every put under transform/joins (a full disk, a denied prefix), and reads as usual.
  const refusing = new Proxy(run, {
    get: (target, name, receiver) => name === 'put'
      ? (key: string, body: unknown) => {
        if (key.startsWith(JOINS_PREFIX)) return Promise.reject(new Error(`cannot write ${key}: no space left on device (ENOSPC)`));
        return target.put(key, body as string);
      }
      : Reflect.get(target, name, receiver),
  });
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'join-store-tmp-'));
  t.teardown(() => rm(tmp, { recursive: true, force: true }));
  const before = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  try {
    const got = await lookup(refusing, extract);
    t.deepEqual(got.values, WANT);
    t.regex(got.log.join('\n'), /not kept/);
    // transform joins, whose work is the keeping, fails instead of saying it kept them.
    const joins = new JoinCache(refusing, extract, undefined, undefined, () => {}, false, true);
    await t.throwsAsync(joins.get('jobs', 'id', 'name'), { message: /ENOSPC/ });
    await joins.close();
  } finally {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
  }
  t.deepEqual(await readdir(tmp), [], 'no temp dir left behind');
});

test('a damaged kept index found unusable before the input check is not copied again when a unit first needs it', async (t) => {
  const { dir, run, extract } = await runWith(t);
  await lookup(run, extract);
  const keys = keptJoinKeys({ table: 'jobs', match: 'id', take: 'name' });
  const file = path.join(dir, keys.index);
  const bytes = await readFile(file);
  bytes[0] ^= 1;
  await writeFile(file, bytes);
  // Counts the copies of the kept index the cache starts.
  let copies = 0;
  const counted: Storage = Object.create(run, { get: { value: (key: string) => { if (key === keys.index) copies++; return run.get(key); } } });
  const log: string[] = [];
  const cache = new JoinCache(counted, extract, undefined, undefined, (m) => log.push(m));
  try {
    const spec = { table: 'jobs', match: 'id', take: 'name' };
    t.deepEqual(await cache.openKept([spec]), [spec]);
    t.is((await cache.get('jobs', 'id', 'name')).get('k0'), 'name 0');
  } finally {
    await cache.close();
  }
  t.is(copies, 1, log.join('\n'));
  t.is(log.filter((m) => m.includes('cannot be used')).length, 1, log.join('\n'));
});

test('keptJoinRecord finds an index kept for these inputs without copying it, and not one of another size or other inputs', async (t) => {
  const { dir, run, extract } = await runWith(t);
  const join = { table: 'jobs', match: 'id', take: 'name' };
  const log: string[] = [];
  t.is(await keptJoinRecord(run, join, joinFingerprint(extract, join), (m) => log.push(m)), undefined, 'nothing kept yet');
  await lookup(run, extract);
  const kept = await keptJoinRecord(run, join, joinFingerprint(extract, join), (m) => log.push(m));
  t.is(kept?.entries, ROWS);
  t.is(await keptJoinRecord(run, join, 'another fingerprint', (m) => log.push(m)), undefined);
  t.regex(log.join('\n'), /built from other inputs/);
  // A short file: its size no longer matches the record.
  const file = path.join(dir, keptJoinKeys(join).index);
  await writeFile(file, (await readFile(file)).subarray(1));
  t.is(await keptJoinRecord(run, join, joinFingerprint(extract, join), (m) => log.push(m)), undefined);
  t.regex(log.at(-1)!, /is \d+ bytes where its \.json says \d+: building it again$/);
  await rm(file);
  t.is(await keptJoinRecord(run, join, joinFingerprint(extract, join), (m) => log.push(m)), undefined);
  t.regex(log.at(-1)!, /is missing: building it again$/);
});
