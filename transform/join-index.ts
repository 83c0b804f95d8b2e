// A join's lookup table (another table's match column → taken column), built
// once per run into a file sorted by the keys' UTF-8 bytes, that every thread
// reads with positional reads. Memory stays flat however large the joined
// table: the file lives in the OS page cache, and only the first key of each
// ~4 KB block is held, in SharedArrayBuffers shared with the worker threads.
// (Held in memory, 1M uuid → job_id entries cost ~60 MB, and twice that while
// building.) A lookup is a binary search over the blocks' first keys, one
// pread and a binary search in the block. An index file that fits in
// WHOLE_FILE_BYTES with its hash table (see keyTable) is read once into a
// SharedArrayBuffer instead, so memory stays bounded: lookups come in another
// table's key order, nearly every one read another block, and those preads
// were ~20% of processing_job_events' transform CPU.
//
// Block layout: u32 count, then u32 offsets (from the block's start) of each
// entry's key start, value start, and the end; a value is a flag byte (0 NULL,
// 1 a value) then its UTF-8 bytes.
import { closeSync, fstatSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ByteBuffer } from '../lib/byte-buffer.ts';

const BLOCK_BYTES = 4096;
/** An index file and its hash table up to this size are held whole in memory, once for every thread (1M uuid → uuid entries take ~85 MB, and 16 MiB of table). */
const WHOLE_FILE_BYTES = 64 * 1024 * 1024;
/** Key and value bytes sorted in memory at a time; a larger table is sorted in runs, then merged. */
const RUN_BYTES = 4 * 1024 * 1024;

/** A built index file and its block index (SharedArrayBuffers: shared with worker threads, not cloned). */
export interface JoinIndexFile {
  path: string;
  /** Each block's first key, back to back. */
  firstKeys: SharedArrayBuffer;
  /** blocks + 1 offsets into firstKeys. */
  firstKeyAt: SharedArrayBuffer;
  /** blocks + 1 file positions (Float64: files may pass 4 GB). */
  blockAt: SharedArrayBuffer;
  /** How many entries the file holds (the size of its hash table, when held whole). */
  entries: number;
}

/**
 * An open index: what crosses to a worker. The descriptor belongs to the
 * process, and is opened by the main thread: Node closes a worker's
 * descriptors when the worker exits.
 */
export interface JoinIndexData extends Omit<JoinIndexFile, 'path'> {
  fd: number;
  /** The whole file, when it and its hash table fit in WHOLE_FILE_BYTES. */
  whole?: SharedArrayBuffer;
  /** With `whole`: a hash table of its entries (see KeyTable). */
  table?: SharedArrayBuffer;
}

/** Opens a built index file and deletes it: the open descriptor keeps it readable, and nothing is left on disk. */
export function openJoinIndex({ path: file, ...index }: JoinIndexFile, wholeFileBytes = WHOLE_FILE_BYTES): JoinIndex {
  const fd = openSync(file, 'r');
  rmSync(path.dirname(file), { recursive: true, force: true });
  const blockAt = new Float64Array(index.blockAt);
  const size = blockAt[blockAt.length - 1]!;
  // The hash table counts against the budget too: beside a file of short keys it is larger than the file.
  if (size + 8 * keyTableSlots(index.entries) > wholeFileBytes) return new JoinIndex({ fd, ...index });
  const whole = new SharedArrayBuffer(Math.max(1, size));
  const bytes = Buffer.from(whole);
  for (let done = 0; done < size;) {
    const read = readSync(fd, bytes, done, size - done, done);
    if (read === 0) throw new Error(`${file} ended before its ${size} bytes`);
    done += read;
  }
  return new JoinIndex({ fd, ...index, whole, table: keyTable(bytes, blockAt, index.entries) });
}

/** A power of two at least twice the entries: probes stay short (1.5 on average, measured on ids, uuids and dates). */
function keyTableSlots(entries: number): number {
  let slots = 2;
  while (slots < 2 * entries) slots *= 2;
  return slots;
}

/**
 * An open-addressing hash table (FNV-1a of the key's UTF-8 bytes, linear
 * probing) over a whole index file: per slot, the absolute position of the
 * entry's offsets and of its block, 0 for empty. A lookup is then one hash
 * and one key comparison instead of ~20 Buffer.compare calls of a binary
 * search (4.5 µs a lookup, 8% of processing_job_events' CPU). 16 to 32 bytes
 * per entry (8 a slot), shared by every thread like the file.
 */
function keyTable(whole: Buffer, blockAt: Float64Array, entries: number): SharedArrayBuffer {
  const slots = keyTableSlots(entries);
  const table = new SharedArrayBuffer(slots * 8);
  const at = new Int32Array(table);
  for (let b = 0; b + 1 < blockAt.length; b++) {
    const start = blockAt[b]!;
    const count = whole.readUInt32LE(start);
    for (let i = 0; i < count; i++) {
      const entry = start + 4 + 8 * i;
      const keyStart = start + whole.readUInt32LE(entry);
      let slot = fnv1a(whole, keyStart, start + whole.readUInt32LE(entry + 4)) & (slots - 1);
      while (at[2 * slot] !== 0) slot = (slot + 1) & (slots - 1);
      at[2 * slot] = entry;
      at[2 * slot + 1] = start;
    }
  }
  return table;
}

/** Whether `a` from `at` holds `b`'s first `length` bytes. A loop: Buffer.compare on a SharedArrayBuffer's bytes took ~1 µs a call. */
function sameBytes(a: Buffer, at: number, b: Buffer, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[at + i] !== b[i]) return false;
  return true;
}

function fnv1a(bytes: Buffer, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  return hash >>> 0;
}

export class JoinIndex {
  private readonly firstKeys: Buffer;
  private readonly firstKeyAt: Uint32Array;
  private readonly blockAt: Float64Array;
  private readonly whole: Buffer | undefined;
  private block: Buffer = Buffer.alloc(BLOCK_BYTES);
  private loaded = -1;
  private readonly table: Int32Array | undefined;
  private viewStart = -1;
  /** A probe key's UTF-8 bytes, written here rather than into a new Buffer per lookup. */
  private probe = Buffer.alloc(256);

  constructor(readonly data: JoinIndexData) {
    this.firstKeys = Buffer.from(data.firstKeys);
    this.firstKeyAt = new Uint32Array(data.firstKeyAt);
    this.blockAt = new Float64Array(data.blockAt);
    this.whole = data.whole && Buffer.from(data.whole);
    this.table = data.table && new Int32Array(data.table);
  }

  /** find() over a whole file, through its hash table. */
  private findWhole(key: string, whole: Buffer, table: Int32Array): number {
    if (this.probe.length < 3 * key.length) this.probe = Buffer.alloc(3 * key.length);
    const probe = this.probe;
    const length = probe.write(key, 0, 'utf8');
    const mask = table.length / 2 - 1;
    for (let slot = fnv1a(probe, 0, length) & mask; ; slot = (slot + 1) & mask) {
      const entry = table[2 * slot]!;
      if (entry === 0) return -1;
      const start = table[2 * slot + 1]!;
      const keyStart = start + whole.readUInt32LE(entry);
      const keyEnd = start + whole.readUInt32LE(entry + 4);
      if (keyEnd - keyStart === length && sameBytes(whole, keyStart, probe, length)) {
        // get() reads the entry's offsets from its block's start, as a binary search leaves them.
        if (start !== this.viewStart) {
          this.block = whole.subarray(start);
          this.viewStart = start;
        }
        return entry - start;
      }
    }
  }

  /** The entry's position in the loaded block (see the layout above), or -1. */
  private find(key: string): number {
    if (this.table && this.whole) return this.findWhole(key, this.whole, this.table);
    const probe = Buffer.from(key, 'utf8');
    // The last block whose first key ≤ probe.
    let lo = 0;
    let hi = this.blockAt.length - 2;
    let b = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.firstKeys.compare(probe, 0, probe.length, this.firstKeyAt[mid], this.firstKeyAt[mid + 1]) <= 0) {
        b = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (b < 0) return -1;
    if (b !== this.loaded) {
      const length = this.blockAt[b + 1]! - this.blockAt[b]!;
      if (this.whole) {
        // A view, not a copy: a block's offsets count from its own start.
        this.block = this.whole.subarray(this.blockAt[b]!, this.blockAt[b]! + length);
      } else {
        if (this.block.length < length) this.block = Buffer.alloc(length);
        readSync(this.data.fd, this.block, 0, length, this.blockAt[b]!);
      }
      this.loaded = b;
    }
    const block = this.block;
    lo = 0;
    hi = block.readUInt32LE(0) - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = 4 + 8 * mid;
      const order = block.compare(probe, 0, probe.length, block.readUInt32LE(at), block.readUInt32LE(at + 4));
      if (order === 0) return at;
      if (order < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  has(key: string): boolean {
    return this.find(key) >= 0;
  }

  /** The taken value; null when that row's value is NULL; undefined when no row matches. */
  get(key: string): string | null | undefined {
    const at = this.find(key);
    if (at < 0) return undefined;
    const value = this.block.readUInt32LE(at + 4);
    if (this.block[value] === 0) return null;
    return this.block.toString('utf8', value + 1, this.block.readUInt32LE(at + 8));
  }

  /** Only the thread that opened the index closes it, once every unit using it is done. */
  close(): void {
    closeSync(this.data.fd);
  }
}

/** An entry's bytes and where its key and value are in them: [bytes, keyStart, keyEnd, valueStart, valueEnd]. */
type Entry = [Buffer, number, number, number, number];

/** A file of sorted blocks being written, with its block index. */
class BlockFile {
  readonly fd: number;
  private readonly block = new ByteBuffer();
  private readonly offsets: number[] = [];
  private readonly firstKeys = new ByteBuffer();
  private readonly firstKeyAt: number[] = [0];
  private readonly blockAt: number[] = [0];
  private readonly last = new ByteBuffer();
  private empty = true;
  private added = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w+');
  }

  /** Compares `key` (bytes start..end of `from`) with the last key added: < 0, 0 or > 0; > 0 when empty. */
  compareLast(from: Buffer, start: number, end: number): number {
    return this.empty ? 1 : from.compare(this.last.buffer, 0, this.last.length, start, end);
  }

  /** Adds an entry; keys must come in ascending order. */
  add(from: Buffer, keyStart: number, keyEnd: number, valueStart: number, valueEnd: number): void {
    const header = 4 + 4 * (this.offsets.length + 3);
    if (this.offsets.length > 0 && header + this.block.length + (keyEnd - keyStart) + (valueEnd - valueStart) > BLOCK_BYTES) this.flush();
    if (this.offsets.length === 0) {
      this.firstKeys.appendBytes(from, keyStart, keyEnd);
      this.firstKeyAt.push(this.firstKeys.length);
    }
    this.offsets.push(this.block.length);
    this.block.appendBytes(from, keyStart, keyEnd);
    this.offsets.push(this.block.length);
    this.block.appendBytes(from, valueStart, valueEnd);
    this.last.length = 0;
    this.last.appendBytes(from, keyStart, keyEnd);
    this.empty = false;
    this.added++;
  }

  private flush(): void {
    const count = this.offsets.length / 2;
    const header = 4 + 4 * (this.offsets.length + 1);
    const out = Buffer.allocUnsafe(header + this.block.length);
    out.writeUInt32LE(count, 0);
    this.offsets.push(this.block.length);
    this.offsets.forEach((offset, i) => out.writeUInt32LE(header + offset, 4 + 4 * i));
    this.block.buffer.copy(out, header, 0, this.block.length);
    const position = this.blockAt[this.blockAt.length - 1]!;
    writeSync(this.fd, out, 0, out.length, position);
    this.blockAt.push(position + out.length);
    this.offsets.length = 0;
    this.block.length = 0;
  }

  /** Every entry in order: the entry's bytes and where its key and value are in them. */
  *entries(): Generator<Entry> {
    let block = Buffer.alloc(BLOCK_BYTES);
    for (let b = 0; b + 1 < this.blockAt.length; b++) {
      const length = this.blockAt[b + 1]! - this.blockAt[b]!;
      if (block.length < length) block = Buffer.alloc(length);
      readSync(this.fd, block, 0, length, this.blockAt[b]!);
      const count = block.readUInt32LE(0);
      for (let i = 0; i < count; i++) {
        const at = 4 + 8 * i;
        yield [block, block.readUInt32LE(at), block.readUInt32LE(at + 4), block.readUInt32LE(at + 4), block.readUInt32LE(at + 8)];
      }
    }
  }

  /** Writes the last block. */
  end(): void {
    if (this.offsets.length > 0) this.flush();
  }

  index(): JoinIndexFile {
    return blockIndex(this.path, this.firstKeys, this.firstKeyAt, this.blockAt, this.added);
  }
}

function shared(bytes: Uint8Array): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(Math.max(1, bytes.byteLength));
  new Uint8Array(buffer).set(bytes);
  return buffer;
}

function blockIndex(file: string, firstKeys: ByteBuffer, firstKeyAt: number[], blockAt: number[], entries: number): JoinIndexFile {
  return {
    path: file,
    firstKeys: shared(firstKeys.buffer.subarray(0, firstKeys.length)),
    firstKeyAt: shared(new Uint8Array(Uint32Array.from(firstKeyAt).buffer)),
    blockAt: shared(new Uint8Array(Float64Array.from(blockAt).buffer)),
    entries,
  };
}

/**
 * The block index of an index file BlockFile wrote (a copy from the run's
 * store: transform/join-store.ts), read from the blocks' headers. Throws on
 * a file whose blocks do not tile it.
 */
export function readJoinIndexFile(file: string): JoinIndexFile {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const firstKeys = new ByteBuffer(4096);
    const firstKeyAt = [0];
    const blockAt = [0];
    let entries = 0;
    let head = Buffer.alloc(BLOCK_BYTES);
    const read = (bytes: number, position: number) => {
      if (head.length < bytes) head = Buffer.alloc(bytes);
      for (let done = 0; done < bytes;) {
        const n = readSync(fd, head, done, bytes - done, position + done);
        if (n === 0) throw new Error(`${file} ended inside the block at ${position}`);
        done += n;
      }
    };
    for (let at = 0; at < size;) {
      // u32 count, then 2·count + 1 offsets: the first two bound the block's first key, the last is its end.
      read(4, at);
      const count = head.readUInt32LE(0);
      const headerBytes = 4 + 4 * (2 * count + 1);
      if (count === 0 || headerBytes > size - at) throw new Error(`${file} is not a join index: a block at ${at} of ${count} entries`);
      read(headerBytes, at);
      const [keyStart, keyEnd, end] = [head.readUInt32LE(4), head.readUInt32LE(8), head.readUInt32LE(4 + 8 * count)];
      if (!(headerBytes <= keyStart && keyStart <= keyEnd && keyEnd <= end && at + end <= size)) {
        throw new Error(`${file} is not a join index: the block at ${at} has offsets outside it`);
      }
      read(keyEnd - keyStart, at + keyStart);
      firstKeys.appendBytes(head, 0, keyEnd - keyStart);
      firstKeyAt.push(firstKeys.length);
      entries += count;
      at += end;
      blockAt.push(at);
    }
    return blockIndex(file, firstKeys, firstKeyAt, blockAt, entries);
  } finally {
    closeSync(fd);
  }
}

/**
 * Collects (key, value) rows into sorted runs of RUN_BYTES on disk, then merges
 * them into one index file. A joined table usually arrives sorted (its primary
 * key is the match column and extract orders by it, COLLATE "C"): its runs
 * follow one another, so they go to one file and nothing is merged.
 */
export class JoinIndexBuilder {
  private readonly dir = mkdtempSync(path.join(os.tmpdir(), 'pg2ddb-join-'));
  private readonly files: BlockFile[] = [];
  private readonly run = new ByteBuffer();
  /** Per entry: start of its key, start of its value (flag byte first), in `run`. */
  private runAt: number[] = [];

  /** `describe` names the join in errors; `runBytes` is lowered only by tests, to merge small tables. */
  constructor(private readonly describe: string, private readonly runBytes = RUN_BYTES) {}

  /** NULL keys match nothing and are left out. */
  add(key: string | null, value: string | null): void {
    if (key === null) return;
    this.runAt.push(this.run.length);
    this.run.append(key);
    this.runAt.push(this.run.length);
    this.run.append(value === null ? '\0' : `\u0001${value}`);
    if (this.run.length >= this.runBytes) this.spill();
  }

  private duplicate(): Error {
    return new Error(`${this.describe}: the match column is not unique, so a join could find two rows`);
  }

  /** Sorts the run in memory and appends it to the last file, or to a new one if its keys do not follow on. */
  private spill(): void {
    const at = this.runAt;
    const count = at.length / 2;
    if (count === 0) return;
    at.push(this.run.length);
    const bytes = this.run.buffer;
    const compare = (a: number, b: number) => bytes.compare(bytes, at[2 * b]!, at[2 * b + 1]!, at[2 * a]!, at[2 * a + 1]!);
    const order = new Uint32Array(count);
    for (let i = 0; i < count; i++) order[i] = i;
    let sorted = true;
    for (let i = 1; i < count && sorted; i++) sorted = compare(i - 1, i) < 0;
    if (!sorted) order.sort(compare);
    let file = this.files[this.files.length - 1];
    const first = order[0]!;
    if (!file || file.compareLast(bytes, at[2 * first]!, at[2 * first + 1]!) <= 0) {
      file = new BlockFile(path.join(this.dir, `run-${this.files.length}`));
      this.files.push(file);
    }
    for (const i of order) {
      const [keyStart, keyEnd] = [at[2 * i]!, at[2 * i + 1]!];
      if (file.compareLast(bytes, keyStart, keyEnd) === 0) throw this.duplicate();
      file.add(bytes, keyStart, keyEnd, keyEnd, at[2 * i + 2]!);
    }
    this.run.length = 0;
    this.runAt = [];
  }

  /** The sorted index file, for openJoinIndex; a key seen twice is an error: a join must find one row. */
  build(): JoinIndexFile {
    this.spill();
    const file = this.files.length === 1 ? this.files[0]! : this.merge();
    file.end();
    for (const other of this.files) {
      closeSync(other.fd);
      if (other !== file) rmSync(other.path);
    }
    this.files.length = 0;
    return file.index();
  }

  /** After a failed build: closes and deletes the files. */
  discard(): void {
    for (const file of this.files) closeSync(file.fd);
    this.files.length = 0;
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** k-way merge of the sorted files into one. */
  private merge(): BlockFile {
    const sources = this.files.map((f) => { f.end(); return f.entries(); });
    const heads = sources.map((s) => s.next());
    const merged = new BlockFile(path.join(this.dir, 'merged'));
    this.files.push(merged);
    for (;;) {
      let min = -1;
      for (let i = 0; i < heads.length; i++) {
        const head = heads[i]!;
        if (head.done) continue;
        if (min < 0) { min = i; continue; }
        const [a, aStart, aEnd] = head.value;
        const [b, bStart, bEnd] = heads[min]!.value as Entry;
        if (a.compare(b, bStart, bEnd, aStart, aEnd) < 0) min = i;
      }
      if (min < 0) return merged;
      const [bytes, keyStart, keyEnd, valueStart, valueEnd] = heads[min]!.value as Entry;
      if (merged.compareLast(bytes, keyStart, keyEnd) === 0) throw this.duplicate();
      merged.add(bytes, keyStart, keyEnd, valueStart, valueEnd);
      heads[min] = sources[min]!.next();
    }
  }
}
