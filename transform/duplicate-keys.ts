// No two items may share (PK, SK) across the whole run: ImportTable would
// silently keep one of them. Each unit writes its item keys as a sorted file of
// fixed-size records; a k-way merge over every unit's file finds duplicates in
// memory bounded by the number of units, not items (100M items fit).
import { ByteBuffer } from '../lib/byte-buffer.ts';
import { writeKeyHash } from './key-hash.ts';

export const HASH_BYTES = 16;
/** The key's 16-byte hash (key-hash.ts), then the unit's row number and item line number (uint32 BE). */
export const KEY_RECORD_BYTES = HASH_BYTES + 8;

export class KeyCollector {
  private readonly records = new ByteBuffer(KEY_RECORD_BYTES * 1024);
  private count = 0;

  add(pk: string, sk: string, row: number, line: number): void {
    this.records.reserve(KEY_RECORD_BYTES);
    writeKeyHash(pk, sk, this.records.buffer, this.records.length);
    this.added(row, line);
  }

  /** As add, the key's hash (writeKeyHash) given as bytes [at, at + 16) of `hashes`. */
  addHash(hashes: Buffer, at: number, row: number, line: number): void {
    this.records.reserve(KEY_RECORD_BYTES);
    hashes.copy(this.records.buffer, this.records.length, at, at + HASH_BYTES);
    this.added(row, line);
  }

  private added(row: number, line: number): void {
    const { buffer } = this.records;
    const at = this.records.length;
    buffer.writeUInt32BE(row, at + HASH_BYTES);
    buffer.writeUInt32BE(line, at + HASH_BYTES + 4);
    this.records.length += KEY_RECORD_BYTES;
    this.count++;
  }

  /**
   * Rewrites each record's line from the item's index in arrival order to the
   * line it was written on (`order[line]` is the index of the item on `line`).
   */
  renumberLines(order: Uint32Array): void {
    const lineOf = new Uint32Array(order.length);
    for (let line = 0; line < order.length; line++) lineOf[order[line]!] = line;
    const { buffer } = this.records;
    for (let at = HASH_BYTES + 4; at < this.count * KEY_RECORD_BYTES; at += KEY_RECORD_BYTES) {
      buffer.writeUInt32BE(lineOf[buffer.readUInt32BE(at)]!, at);
    }
  }

  /** The records sorted by (hash, row): the unit's keys file. */
  sorted(): Buffer {
    const { buffer } = this.records;
    // Sort record numbers by the hash's first 8 bytes as two integers, the full record on a tie:
    // no per-record Buffer views, which dominated this sort.
    const order = new Uint32Array(this.count);
    const high = new Uint32Array(this.count);
    const low = new Uint32Array(this.count);
    for (let i = 0; i < this.count; i++) {
      order[i] = i;
      high[i] = buffer.readUInt32BE(i * KEY_RECORD_BYTES);
      low[i] = buffer.readUInt32BE(i * KEY_RECORD_BYTES + 4);
    }
    order.sort((a, b) => (high[a]! - high[b]!) || (low[a]! - low[b]!) ||
      buffer.compare(buffer, b * KEY_RECORD_BYTES, (b + 1) * KEY_RECORD_BYTES, a * KEY_RECORD_BYTES, (a + 1) * KEY_RECORD_BYTES));
    const out = Buffer.allocUnsafe(this.count * KEY_RECORD_BYTES);
    for (let i = 0; i < this.count; i++) buffer.copy(out, i * KEY_RECORD_BYTES, order[i]! * KEY_RECORD_BYTES, (order[i]! + 1) * KEY_RECORD_BYTES);
    return out;
  }
}

export interface KeyLocation { source: number; row: number; line: number }
export interface Duplicate { first: KeyLocation; duplicate: KeyLocation }

/**
 * Reads fixed-size records from a stream, a chunk at a time. The current
 * record's hash is held as four uint32s, so the merge compares numbers: with
 * a Buffer view and Buffer.compare per record, merging a run's keys cost
 * ~1.5 µs per item, most of a one-table rerun's CPU on a large run.
 */
class RecordReader {
  private chunk: Buffer = Buffer.alloc(0);
  private offset = 0;
  private readonly iterator: AsyncIterator<Buffer>;
  private readonly name: string;
  row = 0;
  line = 0;
  h0 = 0;
  h1 = 0;
  h2 = 0;
  h3 = 0;

  constructor(stream: AsyncIterable<Buffer>, readonly source: number, name?: string) {
    this.iterator = stream[Symbol.asyncIterator]();
    this.name = name ?? String(source);
  }

  /** The next record: synchronously when the chunk in hand holds it (an await per record cost as much as the rest). */
  advance(): boolean | Promise<boolean> {
    if (this.chunk.length - this.offset < KEY_RECORD_BYTES) return this.fill();
    this.load();
    return true;
  }

  private async fill(): Promise<boolean> {
    while (this.chunk.length - this.offset < KEY_RECORD_BYTES) {
      const next = await this.iterator.next();
      if (next.done) {
        if (this.chunk.length - this.offset !== 0) throw new Error(`keys file ${this.name} is truncated`);
        return false;
      }
      this.chunk = this.offset === this.chunk.length ? next.value : Buffer.concat([this.chunk.subarray(this.offset), next.value]);
      this.offset = 0;
    }
    this.load();
    return true;
  }

  private load(): void {
    const { chunk } = this;
    const at = this.offset;
    this.h0 = chunk.readUInt32BE(at);
    this.h1 = chunk.readUInt32BE(at + 4);
    this.h2 = chunk.readUInt32BE(at + 8);
    this.h3 = chunk.readUInt32BE(at + 12);
    this.row = chunk.readUInt32BE(at + HASH_BYTES);
    this.line = chunk.readUInt32BE(at + HASH_BYTES + 4);
    this.offset += KEY_RECORD_BYTES;
  }

  location(): KeyLocation {
    return { source: this.source, row: this.row, line: this.line };
  }
}

function hashOrder(a: RecordReader, b: RecordReader): number {
  return (a.h0 - b.h0) || (a.h1 - b.h1) || (a.h2 - b.h2) || (a.h3 - b.h3) || a.source - b.source;
}

/**
 * Every record whose hash equals an earlier one's, in (hash, source, row) order.
 * `sources` are the units' sorted keys files in run order (`names` name them in errors);
 * the first occurrence is the one kept.
 */
export async function* findDuplicates(sources: AsyncIterable<Buffer>[], names?: string[]): AsyncGenerator<Duplicate> {
  const heap: RecordReader[] = [];
  for (let i = 0; i < sources.length; i++) {
    const reader = new RecordReader(sources[i]!, i, names?.[i]);
    if (await reader.advance()) heapPush(heap, reader);
  }
  // The first occurrence of the current hash, as numbers: an object per record was a third of the merge.
  let h0 = -1, h1 = -1, h2 = -1, h3 = -1;
  let source = -1, row = 0, line = 0;
  while (heap.length > 0) {
    const reader = heap[0]!;
    if (source >= 0 && reader.h0 === h0 && reader.h1 === h1 && reader.h2 === h2 && reader.h3 === h3) {
      yield { first: { source, row, line }, duplicate: reader.location() };
    } else {
      h0 = reader.h0; h1 = reader.h1; h2 = reader.h2; h3 = reader.h3;
      source = reader.source; row = reader.row; line = reader.line;
    }
    let more = reader.advance();
    if (more !== true) more = await more;
    if (more) heapReplaceTop(heap);
    else heapPopTop(heap);
  }
}

/**
 * A keys file of `size` bytes as chunks of `chunkBytes`, each one ranged read
 * (`read(start, end)`), the next requested while this one is merged. No stream
 * stays open between reads: the merge reads every unit at once, and a stream
 * per unit held one of the S3 client's 50 sockets each until read to its end,
 * so past 50 units the next request waited for a socket forever.
 */
export function rangedChunks(read: (start: number, end: number) => Promise<Buffer>, size: number, chunkBytes: number, name: string): AsyncIterable<Buffer> {
  const request = (start: number): Promise<Buffer> | undefined => {
    if (start >= size) return undefined;
    const reading = read(start, Math.min(start + chunkBytes, size));
    // Awaited in turn; a merge stopped early (another file's error) leaves it unread.
    reading.catch(() => {});
    return reading;
  };
  // The first chunk is asked for at once, so every unit's first read is in flight before the merge starts.
  let next = request(0);
  return {
    async *[Symbol.asyncIterator]() {
      for (let start = 0; start < size; start += chunkBytes) {
        const chunk = await next!;
        next = request(start + chunkBytes);
        if (chunk.length !== Math.min(chunkBytes, size - start)) throw new Error(`keys file ${name} ended at ${start + chunk.length} bytes, not ${size}: it changed while read`);
        yield chunk;
      }
    },
  };
}

function heapPush(heap: RecordReader[], reader: RecordReader): void {
  heap.push(reader);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (hashOrder(heap[i]!, heap[parent]!) >= 0) break;
    [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
    i = parent;
  }
}

function heapPopTop(heap: RecordReader[]): void {
  const last = heap.pop()!;
  if (heap.length > 0) {
    heap[0] = last;
    heapReplaceTop(heap);
  }
}

/** Restores heap order after the top reader advanced. */
function heapReplaceTop(heap: RecordReader[]): void {
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    const right = left + 1;
    let smallest = i;
    if (left < heap.length && hashOrder(heap[left]!, heap[smallest]!) < 0) smallest = left;
    if (right < heap.length && hashOrder(heap[right]!, heap[smallest]!) < 0) smallest = right;
    if (smallest === i) return;
    [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
    i = smallest;
  }
}
