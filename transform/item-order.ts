// The order of an item file's lines: a pseudo-random permutation seeded by the
// unit's table and part number, never the extract's primary-key order. AWS's
// import guide ("Randomize sorted data", docs.aws.amazon.com/amazondynamodb/
// latest/developerguide/S3DataImport.BestPractices.html): an S3 object whose
// consecutive items go to one partition makes a rolling hot partition and slows
// the import. The seed holds no input bytes, so a CSV and a Parquet extract of
// the same rows still give byte-identical files, and a rerun the same file.
//
// The permutation is drawn in two steps so a part too large for memory is
// written out with sequential reads: each line goes to one of BUCKETS buckets
// by a seeded draw as it arrives, then each bucket's lines are shuffled
// (Fisher–Yates) and the buckets follow one another. With independent uniform
// buckets and uniform shuffles, every permutation is still equally likely.
// A part's lines are held until its last row is read: in memory up to
// SPILL_BYTES, then each bucket in 32 KB chunks of an unlinked temp file, read
// back a bucket at a time. (The one-step shuffle of /1 read a spilled part back
// with one positional read per line: ~25% of processing_jobs' transform CPU.)
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { ByteBuffer } from '../lib/byte-buffer.ts';

/** Part of every unit's fingerprint: units written in another line order are redone. */
export const LINE_ORDER = 'seeded-buckets/2';
/**
 * A part's item lines held in memory before they move to a temp file. 8 MB:
 * buffers grow by doubling, so each unit in flight can hold twice this. Peak
 * RSS of a 2-core transform at SCALE=0.5 (/usr/bin/time): 64 MB gave 501 MB on
 * processing_jobs alone; 16 MB gave 273 MB there and 316 MB for the whole run;
 * 8 MB 292 MB for the whole run, in the same time.
 */
export const SPILL_BYTES = 8 * 1024 * 1024;
/** Buckets of the first step; a power of two (a draw's top bits pick one). */
const BUCKET_BITS = 7;
const BUCKETS = 1 << BUCKET_BITS;
/** Once spilled, a bucket's bytes move to the temp file this many at a time (BUCKETS × this stays in memory). */
const BUCKET_CHUNK_BYTES = 32 * 1024;
/** Bytes handed to the compressor at a time. */
const CHUNK_BYTES = 1024 * 1024;
const NEWLINE = 0x0a;

/** The order of `count` lines: `order[line]` is the index (in input order) of the item on that line. */
export function lineOrder(table: string, part: number, count: number): Uint32Array {
  const bucketOf = new Uint8Array(count);
  const starts = new Uint32Array(BUCKETS + 1);
  const draw = bucketDraws(table, part);
  for (let i = 0; i < count; i++) starts[(bucketOf[i] = draw()) + 1]!++;
  for (let b = 0; b < BUCKETS; b++) starts[b + 1]! += starts[b]!;
  // Each bucket's members in input order, then each bucket shuffled in place.
  const order = new Uint32Array(count);
  const filled = starts.slice(0, BUCKETS);
  for (let i = 0; i < count; i++) order[filled[bucketOf[i]!]!++] = i;
  const next = shuffleDraws(table, part);
  for (let b = 0; b < BUCKETS; b++) {
    const members = order.subarray(starts[b]!, starts[b + 1]!);
    const permutation = shuffle(members.length, next);
    const copy = members.slice();
    for (let k = 0; k < members.length; k++) members[k] = copy[permutation[k]!]!;
  }
  return order;
}

/** The bucket of each line in arrival order. */
function bucketDraws(table: string, part: number): () => number {
  const next = sfc32(createHash('sha256').update(`${table}\0${part}`).digest());
  return () => next() >>> (32 - BUCKET_BITS);
}

/** The draws of the buckets' shuffles, bucket after bucket. */
function shuffleDraws(table: string, part: number): () => number {
  return sfc32(createHash('sha256').update(`${table}\0${part}\0shuffle`).digest());
}

/** A uniformly random permutation of 0..n-1 (Fisher–Yates, one draw per position). */
function shuffle(n: number, next: () => number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor((next() / 2 ** 32) * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/** sfc32 (Chris Doty-Humphrey's small fast counter): uint32 draws from a 128-bit seed, the same on every platform. */
function sfc32(seed: Buffer): () => number {
  let a = seed.readUInt32BE(0), b = seed.readUInt32BE(4), c = seed.readUInt32BE(8), d = seed.readUInt32BE(12);
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) next(); // mix the seed in, as sfc32's author advises
  return next;
}

/**
 * Buffers of CHUNK_BYTES for inOrder's chunks, given back by the consumer
 * once it has taken a chunk's bytes. Filling fresh buffers (new pages, zeroed
 * by the kernel) was ~7% of processing_jobs' transform CPU; reused ones cost
 * a tenth of that.
 */
export class ChunkPool {
  private readonly free: Buffer[] = [];

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES);
  }

  /** A chunk `take` gave out (any other buffer is left alone), whose bytes are no longer needed. */
  give(chunk: Buffer): void {
    if (chunk.byteOffset === 0 && chunk.buffer.byteLength === CHUNK_BYTES) this.free.push(Buffer.from(chunk.buffer, 0, CHUNK_BYTES));
  }
}

/** A part's item lines, held by bucket until they are written out in `lineOrder`'s order. */
export class HeldLines {
  /** Each bucket's lines in memory; once spilled, only the tail not yet in the file. */
  private readonly buckets = Array.from({ length: BUCKETS }, () => new ByteBuffer(256));
  /** Once spilled: each bucket's chunks in the file, as [position, length] pairs. */
  private readonly chunks: number[][] = Array.from({ length: BUCKETS }, () => []);
  private readonly draw: () => number;
  private fd: number | undefined;
  private written = 0;
  private readBuffer = Buffer.alloc(0);
  count = 0;
  bytes = 0;

  constructor(private readonly table: string, private readonly part: number, private readonly spillBytes = SPILL_BYTES) {
    this.draw = bucketDraws(table, part);
  }

  /** Adds one line (ending with its newline, and holding no other). */
  add(line: string): void {
    const b = this.draw();
    const bucket = this.buckets[b]!;
    const before = bucket.length;
    bucket.append(line);
    this.added(b, bucket.length - before);
  }

  /** Adds one line given as bytes [start, end) of `from` (ending with its newline, and holding no other). */
  addBytes(from: Buffer, start: number, end: number): void {
    const b = this.draw();
    this.buckets[b]!.appendBytes(from, start, end);
    this.added(b, end - start);
  }

  private added(b: number, bytes: number): void {
    const bucket = this.buckets[b]!;
    this.bytes += bytes;
    this.count++;
    if (this.fd === undefined) {
      if (this.bytes > this.spillBytes) this.spill();
    } else if (bucket.length >= BUCKET_CHUNK_BYTES) {
      this.flush(b);
    }
  }

  /** Whether the lines have moved to a temp file. */
  get spilled(): boolean {
    return this.fd !== undefined;
  }

  /**
   * The lines in `lineOrder(table, part, count)`, as chunks of about
   * CHUNK_BYTES. Each chunk is handed on without another copy, in a buffer
   * from `pool`: a consumer that gives chunks back once it has taken their
   * bytes lets the next chunks reuse them.
   */
  *inOrder(pool = new ChunkPool()): Generator<Buffer> {
    const next = shuffleDraws(this.table, this.part);
    let out = pool.take();
    let length = 0;
    for (let b = 0; b < BUCKETS; b++) {
      const bytes = this.bucketBytes(b);
      const starts = [0];
      for (let at = bytes.indexOf(NEWLINE); at >= 0; at = bytes.indexOf(NEWLINE, at + 1)) starts.push(at + 1);
      for (const k of shuffle(starts.length - 1, next)) {
        const [start, end] = [starts[k]!, starts[k + 1]!];
        if (length + end - start > out.length) {
          if (length > 0) yield out.subarray(0, length);
          out = end - start > CHUNK_BYTES ? Buffer.allocUnsafe(end - start) : pool.take();
          length = 0;
        }
        length += bytes.copy(out, length, start, end);
      }
    }
    if (length > 0) yield out.subarray(0, length);
  }

  /** Frees the temp file (unlinked when made: a killed process leaves nothing). */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** A bucket's lines in arrival order: its chunks from the file, then its tail in memory. */
  private bucketBytes(b: number): Buffer {
    const tail = this.buckets[b]!;
    const chunks = this.chunks[b]!;
    if (chunks.length === 0) return tail.buffer.subarray(0, tail.length);
    let total = tail.length;
    for (let i = 1; i < chunks.length; i += 2) total += chunks[i]!;
    // One buffer for every bucket in turn: a bucket's lines are copied out before the next is read.
    if (this.readBuffer.length < total) this.readBuffer = Buffer.allocUnsafe(Math.max(total, 2 * this.readBuffer.length));
    const bytes = this.readBuffer.subarray(0, total);
    let at = 0;
    for (let i = 0; i < chunks.length; i += 2) {
      const [position, length] = [chunks[i]!, chunks[i + 1]!];
      for (let done = 0; done < length;) {
        const read = readSync(this.fd!, bytes, at + done, length - done, position + done);
        if (read === 0) throw new Error('the temp file of held item lines ended early');
        done += read;
      }
      at += length;
    }
    tail.buffer.copy(bytes, at, 0, tail.length);
    return bytes;
  }

  /** Moves every bucket to the temp file, making it. */
  private spill(): void {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pg2ddb-lines-'));
    this.fd = openSync(path.join(dir, 'lines'), 'w+');
    rmSync(dir, { recursive: true, force: true });
    for (let b = 0; b < BUCKETS; b++) this.flush(b);
  }

  /** Appends a bucket's bytes in memory to the temp file as one chunk. */
  private flush(b: number): void {
    const bucket = this.buckets[b]!;
    if (bucket.length === 0) return;
    let done = 0;
    while (done < bucket.length) done += writeSync(this.fd!, bucket.buffer, done, bucket.length - done, this.written + done);
    this.chunks[b]!.push(this.written, bucket.length);
    this.written += bucket.length;
    // Memory holds at most a chunk per bucket, not the buffer that grew before the spill.
    if (bucket.buffer.length > 2 * BUCKET_CHUNK_BYTES) this.buckets[b] = new ByteBuffer(BUCKET_CHUNK_BYTES);
    else bucket.length = 0;
  }
}
