import test from 'ava';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { COMPRESSIONS, compressionSuffix, compressor, type Compression } from '../lib/compression.ts';
import type { ObjectInfo, PutResult, Storage } from '../lib/storage.ts';
import { writeKeyHash } from './key-hash.ts';
import { KeyCollector } from './duplicate-keys.ts';
import { keyChunkBytes, reportDuplicates } from './duplicate-report.ts';
import type { UnitRecord } from './units.ts';

/**
 * A store read as S3 is through the SDK: a request waits for one of `sockets`
 * connections, and a response's body holds its connection until it is read to
 * its end or destroyed. A request that would wait forever (every connection
 * held by a body nobody reads) fails after a while instead.
 */
class PooledStore {
  readonly uri = 's3://bucket/run';
  readonly files = new Map<string, Buffer>();
  readonly reads = new Map<string, number>();
  private readonly waiting: (() => void)[] = [];

  constructor(private free: number) {}

  /** Connections free now. */
  get freeConnections(): number {
    return this.free;
  }

  private async connection(key: string): Promise<void> {
    this.reads.set(key, (this.reads.get(key) ?? 0) + 1);
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no connection for ${key}: each is held by a body not read to its end`)), 3000);
      this.waiting.push(() => { clearTimeout(timer); resolve(); });
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }

  async get(key: string): Promise<Readable> {
    const bytes = this.files.get(key)!;
    await this.connection(key);
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += 1000) chunks.push(bytes.subarray(at, at + 1000));
    const body = Readable.from(chunks);
    body.once('close', () => this.release());
    return body;
  }

  async getRange(key: string, start: number, end: number): Promise<Buffer> {
    const bytes = this.files.get(key)!;
    await this.connection(key);
    try {
      await tick();
      return Buffer.from(bytes.subarray(start, end));
    } finally {
      this.release();
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    return [...this.files].filter(([key]) => key.startsWith(`${prefix}/`)).map(([key, b]) => ({ key, bytes: b.length })).sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  async put(key: string, body: Readable | string | Buffer): Promise<PutResult> {
    const bytes = typeof body === 'string' || Buffer.isBuffer(body) ? Buffer.from(body) : Buffer.concat(await body.toArray());
    this.files.set(key, bytes);
    return { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
  }
}

type Key = [string, string];

async function compressed(text: string, compression: Compression): Promise<Buffer> {
  const packer = compressor(compression, 1);
  const out = packer.toArray();
  packer.end(text);
  return Buffer.concat(await out);
}

/** A run of units (table, item keys in arrival order = line order), as transform leaves them; and the records of its units. */
async function runOf(store: PooledStore, units: { table: string; keys: Key[] }[], compression: Compression): Promise<UnitRecord[]> {
  // Compressed all at once: one zstd process after another took most of the test's time.
  return Promise.all(units.map(async ({ table, keys }, u) => {
    const collector = new KeyCollector();
    keys.forEach(([pk, sk], i) => collector.add(pk, sk, i + 1, i));
    const base = `transform/units/${table}/part-${String(u).padStart(5, '0')}`;
    const itemKey = `items/${table}/part-${String(u).padStart(5, '0')}.json${compressionSuffix(compression)}`;
    store.files.set(`${base}.keys`, collector.sorted());
    store.files.set(`${base}.json`, Buffer.from('{}'));
    store.files.set(itemKey, await compressed(keys.map(([pk, sk]) => `{"Item":{"PK":{"S":${JSON.stringify(pk)}},"SK":{"S":${JSON.stringify(sk)}},"n":{"N":"1"}}}\n`).join(''), compression));
    return { table, keys_key: `${base}.keys`, part: { key: itemKey } } as UnitRecord;
  }));
}

/** duplicates.jsonl worked out directly: per key, every later (unit, row) against the first, keys in hash order. */
function expected(units: { table: string; keys: Key[] }[]): string {
  const byKey = new Map<string, { table: string; row: number }[]>();
  for (const { table, keys } of units) {
    keys.forEach(([pk, sk], i) => {
      const id = JSON.stringify([pk, sk]);
      if (!byKey.has(id)) byKey.set(id, []);
      byKey.get(id)!.push({ table, row: i + 1 });
    });
  }
  const hashOf = ([pk, sk]: Key) => {
    const out = Buffer.alloc(16);
    writeKeyHash(pk, sk, out, 0);
    return out.toString('hex');
  };
  return [...byKey].filter(([, at]) => at.length > 1).map(([id, at]) => ({ key: JSON.parse(id) as Key, at })).map((d) => ({ ...d, hash: hashOf(d.key) }))
    .sort((a, b) => (a.hash < b.hash ? -1 : 1))
    .flatMap(({ key: [PK, SK], at: [first, ...rest] }) => rest.map((duplicate) => `${JSON.stringify({ PK, SK, first, duplicate })}\n`)).join('');
}

for (const compression of COMPRESSIONS) {
  test(`${compression}: 60 units and 900 duplicates through 8 connections: every duplicate listed, no read left holding one`, async (t) => {
    // Units of two tables: one key in many units (twice in some), one repeated in a unit, and a share of the second table's keys collide with the first's.
    const units = Array.from({ length: 60 }, (_, u) => ({
      table: u < 30 ? 'a' : 'b',
      keys: Array.from({ length: 3000 }, (_, i): Key => (i === 7 && u % 3 === 0) || (i === 8 && u % 5 === 0) ? ['K#dup', 'ROW'] : [`K#${u >= 30 && i % 100 === 0 ? u - 30 : u}-${i}`, `S${i}`]),
    }));
    units[4]!.keys[100] = ['K#dup', 'ROW'];
    const store = new PooledStore(8);
    const records = await runOf(store, units, compression);
    const count = await reportDuplicates(store as unknown as Storage, records);
    const want = expected(units);
    t.is(store.files.get('transform/duplicates.jsonl')!.toString('utf8'), want);
    t.is(count, want.split('\n').length - 1);
    t.true(count > 900, `${count} duplicates`);
    // Each item file with duplicates read once, whatever its number of duplicates.
    t.true([...store.reads].filter(([k]) => k.startsWith('items/')).every(([, n]) => n === 1), JSON.stringify([...store.reads].filter(([k]) => k.startsWith('items/'))));
  });
}

test('no duplicates: an empty duplicates.jsonl; and a run of no units', async (t) => {
  const store = new PooledStore(2);
  const records = await runOf(store, [{ table: 'a', keys: [['A', '1'], ['B', '1']] }, { table: 'a', keys: [] }], 'gzip');
  t.is(await reportDuplicates(store as unknown as Storage, records), 0);
  t.is(store.files.get('transform/duplicates.jsonl')!.length, 0);
  t.is(await reportDuplicates(store as unknown as Storage, []), 0);
});

test('every item of a unit with one key: one read of its item file, not one per duplicate', async (t) => {
  const units = [{ table: 'a', keys: Array.from({ length: 20_000 }, (): Key => ['SAME', 'KEY']) }];
  const store = new PooledStore(4);
  const records = await runOf(store, units, 'zstd');
  t.is(await reportDuplicates(store as unknown as Storage, records), 19_999);
  t.is(store.files.get('transform/duplicates.jsonl')!.toString('utf8'), expected(units));
  t.is(store.reads.get('items/a/part-00000.json.zst'), 1);
});

test('a truncated or missing keys file, or an item file without the line, fails naming the file', async (t) => {
  const store = new PooledStore(4);
  const records = await runOf(store, [{ table: 'a', keys: [['A', '1'], ['B', '1']] }, { table: 'a', keys: [['A', '1']] }], 'none');
  const keys = store.files.get('transform/units/a/part-00001.keys')!;
  store.files.set('transform/units/a/part-00001.keys', keys.subarray(0, 20));
  await t.throwsAsync(reportDuplicates(store as unknown as Storage, records), { message: 'keys file s3://bucket/run/transform/units/a/part-00001.keys is truncated' });
  store.files.set('transform/units/a/part-00001.keys', keys);
  store.files.set('items/a/part-00001.json', Buffer.alloc(0));
  await t.throwsAsync(reportDuplicates(store as unknown as Storage, records), { message: /^s3:\/\/bucket\/run\/items\/a\/part-00001\.json has no line 0, which its keys file names/ });
  store.files.delete('transform/units/a/part-00001.keys');
  await t.throwsAsync(reportDuplicates(store as unknown as Storage, records), { message: /^cannot read s3:\/\/bucket\/run\/transform\/units\/a\/part-00001\.keys: no such object/ });
});

test('an item file that fails stops the reads: no file read after it, none left open, the first failure named', async (t) => {
  // 40 units holding a duplicate (key K#dup on the last of 2000 lines), read 8 at a time through 8 connections;
  // unit 1's on its first line, which is not JSON.
  const units = Array.from({ length: 40 }, (_, u) => ({ table: 'a', keys: Array.from({ length: 2000 }, (_, i): Key => (i === (u === 1 ? 0 : 1999) ? ['K#dup', 'ROW'] : [`K#${u}-${i}`, 'S'])) }));
  const store = new PooledStore(8);
  const records = await runOf(store, units, 'none');
  store.files.set('items/a/part-00001.json', Buffer.from('not JSON\n'));
  await t.throwsAsync(reportDuplicates(store as unknown as Storage, records), { message: /^s3:\/\/bucket\/run\/items\/a\/part-00001\.json: Unexpected token/ });
  const itemReads = () => [...store.reads.keys()].filter((k) => k.startsWith('items/')).length;
  const started = itemReads();
  await new Promise((resolve) => setTimeout(resolve, 20)); // a destroyed body gives its connection back at its 'close'
  t.is(store.freeConnections, 8, 'every item file read in flight closed when the failure is thrown');
  t.true(started <= 8, `${started} item files read: those in flight when part-00001 failed, and no more`);
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.is(itemReads(), started, 'no item file read starts after the failure');
});

test('chunks share 64 MiB between the units, whole records, within bounds', (t) => {
  t.is(keyChunkBytes(1), 43_690 * 24);
  t.is(keyChunkBytes(100), Math.floor(32 * 1024 * 1024 / 100 / 24) * 24);
  t.is(keyChunkBytes(40_000), 256 * 24);
});

// Two (PK, SK) of printable ASCII whose MurmurHash3 x86 128 is the same (built by cancelling a
// one-lane difference of one block in the next: the hash is not collision resistant, and its seed
// is fixed): a user who controls part of a key can make them.
const COLLIDING: [Key, Key] = [['USER#0123456789', 'ox|~qag<2{]f:|*&Y56h,Is$4!>K:0<Y'], ['USER#0123456789', 'ox|~qag<2{]f}&5GY56h,Is$}kKwpCNW']];

test('two different keys of the same hash are no duplicate; a true duplicate among them still is, against its own first', async (t) => {
  const [a, b] = COLLIDING;
  const hashes = COLLIDING.map(([pk, sk]) => { const out = Buffer.alloc(16); writeKeyHash(pk, sk, out, 0); return out.toString('hex'); });
  t.is(hashes[0], hashes[1], 'the two keys share their hash');
  const store = new PooledStore(4);
  const records = await runOf(store, [{ table: 'a', keys: [a, ['X', '1']] }, { table: 'b', keys: [['Y', '2'], b] }], 'gzip');
  t.is(await reportDuplicates(store as unknown as Storage, records), 0);
  t.is(store.files.get('transform/duplicates.jsonl')!.length, 0);

  const units: { table: string; keys: Key[] }[] = [{ table: 'a', keys: [a] }, { table: 'b', keys: [['Y', '2'], b] }, { table: 'c', keys: [b, a] }];
  const again = new PooledStore(4);
  t.is(await reportDuplicates(again as unknown as Storage, await runOf(again, units, 'none')), 2);
  const lines = again.files.get('transform/duplicates.jsonl')!.toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(lines.map((l) => [l.SK, l.first, l.duplicate]).sort(), [
    [a[1], { table: 'a', row: 1 }, { table: 'c', row: 2 }],
    [b[1], { table: 'b', row: 2 }, { table: 'c', row: 1 }],
  ].sort());
});
