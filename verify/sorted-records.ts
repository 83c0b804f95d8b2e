// Fixed-size binary records sorted by their first 16 bytes (a key hash), in
// memory bounded by a budget rather than by how many records there are: an
// external sort. Records gather in one buffer; a full buffer is sorted and
// spilled to a local temp file (a "run"); the runs are then merged, 64 at a
// time, until one sorted stream is left. What verify compares a terabyte with.
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { UserError } from '../lib/errors.ts';

export const SORT_KEY_BYTES = 16;
/**
 * Records held in memory before a spill: 128k × ~40 bytes ≈ 5 MB, sorted in
 * ~0.1 s; 2 billion items make ~15k runs, merged in three passes.
 * PG2DDB_SORT_RECORDS sets it (make bench spills a small table with it).
 */
const RECORDS_PER_RUN = Number(process.env.PG2DDB_SORT_RECORDS) || 128 * 1024;
/** Runs merged at once: each holds one 64 KiB read buffer. */
const MERGE_FAN_IN = 64;
const READ_CHUNK = 64 * 1024;

/** Collects records, spilling sorted runs to a temp directory of its own. */
export class RecordSorter {
  private readonly dir = mkdtempSync(path.join(os.tmpdir(), 'pg2ddb-sort-'));
  private buffer: Buffer;
  private count = 0;
  private runs: string[] = [];
  private nextRun = 0;
  /** Records added, in all. */
  total = 0;

  constructor(readonly recordBytes: number, private readonly recordsPerRun = RECORDS_PER_RUN) {
    this.buffer = Buffer.allocUnsafe(recordBytes * recordsPerRun);
  }

  /** Room for one record: write it at the returned offset of `buffer` before the next call. */
  slot(): { buffer: Buffer; at: number } {
    if (this.count === this.recordsPerRun) this.spill();
    const at = this.count * this.recordBytes;
    this.count++;
    this.total++;
    return { buffer: this.buffer, at };
  }

  add(record: Buffer): void {
    const { buffer, at } = this.slot();
    record.copy(buffer, at, 0, this.recordBytes);
  }

  /** Sorted records of the buffer to a new run file (synchronous: adders wait, memory stays flat). */
  private spill(): void {
    if (this.count === 0) return;
    const sorted = sortRecords(this.buffer, this.count, this.recordBytes);
    const file = path.join(this.dir, `run-${this.nextRun++}`);
    try {
      const fd = openSync(file, 'w');
      try {
        for (let at = 0; at < sorted.length;) at += writeSync(fd, sorted, at, sorted.length - at);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      this.writeFailed(err);
    }
    this.runs.push(file);
    this.count = 0;
  }

  /** A run that could not be written: say where, and what frees it (the bare error names neither). */
  private writeFailed(err: unknown): never {
    const { code, syscall } = err as NodeJS.ErrnoException;
    if (!code || (syscall !== 'open' && syscall !== 'write')) throw err;
    const remedy = code === 'ENOSPC' || code === 'EDQUOT' ? 'free space there' : 'make it writable';
    throw new UserError(`cannot write sorted records to ${this.dir} (${code}): ${remedy} or point TMPDIR at a larger local disk (about ${this.recordBytes} bytes per record, per side), then rerun`);
  }

  /**
   * Every record added, in order, as one stream of records. Runs beyond the
   * fan-in are merged into bigger runs first, so memory never grows with the count.
   */
  async *sorted(): AsyncGenerator<Buffer> {
    if (this.runs.length === 0) {
      // Everything fits in memory: no file at all.
      const sorted = sortRecords(this.buffer, this.count, this.recordBytes);
      for (let at = 0; at < sorted.length; at += this.recordBytes) yield sorted.subarray(at, at + this.recordBytes);
      return;
    }
    this.spill();
    while (this.runs.length > MERGE_FAN_IN) {
      const group = this.runs.splice(0, MERGE_FAN_IN);
      const file = path.join(this.dir, `run-${this.nextRun++}`);
      let fd: number | undefined;
      try {
        fd = openSync(file, 'w');
        const out = Buffer.allocUnsafe(READ_CHUNK - (READ_CHUNK % this.recordBytes));
        let used = 0;
        for await (const record of mergeRecords(group.map((f) => readRecords(createReadStream(f, { highWaterMark: READ_CHUNK }), this.recordBytes, f)))) {
          record.copy(out, used);
          used += this.recordBytes;
          if (used === out.length) { writeSync(fd, out, 0, used); used = 0; }
        }
        if (used > 0) writeSync(fd, out, 0, used);
      } catch (err) {
        this.writeFailed(err);
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
      for (const f of group) rmSync(f, { force: true });
      this.runs.push(file);
    }
    yield* mergeRecords(this.runs.map((f) => readRecords(createReadStream(f, { highWaterMark: READ_CHUNK }), this.recordBytes, f)));
  }

  /** Removes the temp files (always call, also after a failure). */
  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A copy of `count` records of `buffer` in (sort key, whole record) order. */
export function sortRecords(buffer: Buffer, count: number, recordBytes: number): Buffer {
  // Order record numbers by the key's first 8 bytes as two integers, the whole record on a tie:
  // no per-record Buffer views (as transform's key files do).
  const order = new Uint32Array(count);
  const high = new Uint32Array(count);
  const low = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    order[i] = i;
    high[i] = buffer.readUInt32BE(i * recordBytes);
    low[i] = buffer.readUInt32BE(i * recordBytes + 4);
  }
  order.sort((a, b) => (high[a]! - high[b]!) || (low[a]! - low[b]!) ||
    buffer.compare(buffer, b * recordBytes, (b + 1) * recordBytes, a * recordBytes, (a + 1) * recordBytes));
  const out = Buffer.allocUnsafe(count * recordBytes);
  for (let i = 0; i < count; i++) buffer.copy(out, i * recordBytes, order[i]! * recordBytes, (order[i]! + 1) * recordBytes);
  return out;
}

/** The records of a byte stream, one view each into the chunk read (never overwritten). */
export async function* readRecords(stream: Readable | AsyncIterable<Buffer>, recordBytes: number, name: string): AsyncGenerator<Buffer> {
  let rest = Buffer.alloc(0);
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const bytes = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    const whole = bytes.length - (bytes.length % recordBytes);
    for (let at = 0; at < whole; at += recordBytes) yield bytes.subarray(at, at + recordBytes);
    rest = Buffer.from(bytes.subarray(whole));
  }
  if (rest.length > 0) throw new Error(`${name} is truncated: ${rest.length} byte(s) after its last whole record`);
}

/** `a` before `b` in sort-key order (ties: the earlier source first, so a merge is stable). */
export function compareKeys(a: Buffer, b: Buffer): number {
  return a.compare(b, 0, SORT_KEY_BYTES, 0, SORT_KEY_BYTES);
}

interface Head { record: Buffer; source: number; iterator: AsyncIterator<Buffer> }

/** A k-way merge of sorted record streams into one sorted stream (a heap of one head per source). */
export async function* mergeRecords(sources: AsyncIterable<Buffer>[]): AsyncGenerator<Buffer> {
  for await (const { record } of mergeSources(sources)) yield record;
}

/** mergeRecords, each record with the index of the source it came from. */
export async function* mergeSources(sources: AsyncIterable<Buffer>[]): AsyncGenerator<{ record: Buffer; source: number }> {
  const heap: Head[] = [];
  const before = (a: Head, b: Head) => { const c = compareKeys(a.record, b.record); return c < 0 || (c === 0 && a.source < b.source); };
  const push = (head: Head) => {
    heap.push(head);
    for (let i = heap.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  };
  const siftDown = () => {
    for (let i = 0; ;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let first = i;
      if (left < heap.length && before(heap[left]!, heap[first]!)) first = left;
      if (right < heap.length && before(heap[right]!, heap[first]!)) first = right;
      if (first === i) return;
      [heap[i], heap[first]] = [heap[first]!, heap[i]!];
      i = first;
    }
  };
  try {
    for (let source = 0; source < sources.length; source++) {
      const iterator = sources[source]![Symbol.asyncIterator]();
      const next = await iterator.next();
      if (!next.done) push({ record: next.value, source, iterator });
    }
    while (heap.length > 0) {
      const head = heap[0]!;
      yield { record: head.record, source: head.source };
      const next = await head.iterator.next();
      if (next.done) {
        const last = heap.pop()!;
        if (heap.length > 0) { heap[0] = last; siftDown(); }
      } else {
        head.record = next.value;
        siftDown();
      }
    }
  } finally {
    for (const head of heap) await head.iterator.return?.(undefined);
  }
}
