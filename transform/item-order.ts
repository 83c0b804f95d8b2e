// The order of an item file's lines: a pseudo-random permutation seeded by the
// unit's table and part number, never the extract's primary-key order. AWS's
// import guide ("Randomize sorted data", docs.aws.amazon.com/amazondynamodb/
// latest/developerguide/S3DataImport.BestPractices.html): an S3 object whose
// consecutive items go to one partition makes a rolling hot partition and slows
// the import. The seed holds no input bytes, so a CSV and a Parquet extract of
// the same rows still give byte-identical files, and a rerun the same file.
//
// A part's lines are held until its last row is read (the permutation needs
// them all): in memory up to SPILL_BYTES, then in an unlinked temp file read
// back with positional reads, so a part of large items costs disk, not memory.
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { ByteBuffer } from '../lib/byte-buffer.ts';

/** Part of every unit's fingerprint: units written in another line order are redone. */
export const LINE_ORDER = 'seeded-shuffle/1';
/**
 * A part's item lines held in memory before they move to a temp file. 8 MB:
 * a part's buffer grows by doubling, so each unit in flight can hold twice
 * this. Peak RSS of a 2-core transform at SCALE=0.5 (/usr/bin/time): 64 MB
 * gave 501 MB on processing_jobs alone; 16 MB gave 273 MB there and 316 MB for
 * the whole run; 8 MB 292 MB for the whole run, in the same time (positional
 * reads of the temp file come from the page cache).
 */
export const SPILL_BYTES = 8 * 1024 * 1024;
/** Bytes written to the temp file at a time, and handed to gzip at a time. */
const CHUNK_BYTES = 1024 * 1024;

/** The order of `count` lines: `order[line]` is the index (in input order) of the item on that line. */
export function lineOrder(table: string, part: number, count: number): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  const next = sfc32(createHash('sha256').update(`${table}\0${part}`).digest());
  // Fisher–Yates: every permutation equally likely, one random draw per line.
  for (let i = count - 1; i > 0; i--) {
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

/** A part's item lines, held in arrival order until they are written out in another order. */
export class HeldLines {
  /** Lines in memory; once spilled, only the tail not yet written to the file. */
  private held = new ByteBuffer(CHUNK_BYTES);
  /** Start of each line, then the end of the last one (in the file once spilled; Float64: files may pass 4 GB). */
  private starts = new Float64Array(1024);
  private fd: number | undefined;
  private written = 0;
  count = 0;
  bytes = 0;

  constructor(private readonly spillBytes = SPILL_BYTES) {}

  /** Adds one line (with its newline). */
  add(line: string): void {
    if (this.count + 1 >= this.starts.length) {
      const bigger = new Float64Array(this.starts.length * 2);
      bigger.set(this.starts);
      this.starts = bigger;
    }
    this.held.append(line);
    this.bytes = this.written + this.held.length;
    this.starts[++this.count] = this.bytes;
    if (this.fd === undefined ? this.held.length > this.spillBytes : this.held.length >= CHUNK_BYTES) this.spill();
  }

  /** Whether the lines have moved to a temp file. */
  get spilled(): boolean {
    return this.fd !== undefined;
  }

  /** The lines in `order`, as chunks of about CHUNK_BYTES. */
  *inOrder(order: Uint32Array): Generator<Buffer> {
    if (this.fd !== undefined) this.spill();
    const out = new ByteBuffer(CHUNK_BYTES + 64 * 1024);
    for (const index of order) {
      const start = this.starts[index]!;
      const length = this.starts[index + 1]! - start;
      if (this.fd === undefined) {
        out.appendBytes(this.held.buffer, start, start + length);
      } else {
        out.reserve(length);
        let done = 0;
        while (done < length) done += readSync(this.fd, out.buffer, out.length + done, length - done, start + done);
        out.length += length;
      }
      if (out.length >= CHUNK_BYTES) yield out.take();
    }
    if (out.length > 0) yield out.take();
  }

  /** Frees the memory and the temp file (the file was unlinked when made: a killed process leaves nothing). */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** Appends the lines held in memory to the temp file, making it on the first call. */
  private spill(): void {
    if (this.fd === undefined) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'pg2ddb-lines-'));
      this.fd = openSync(path.join(dir, 'lines'), 'w+');
      rmSync(dir, { recursive: true, force: true });
    }
    let done = 0;
    while (done < this.held.length) done += writeSync(this.fd, this.held.buffer, done, this.held.length - done, this.written + done);
    this.written += this.held.length;
    // Once spilled, memory holds one chunk at a time, not the buffer that grew to SPILL_BYTES.
    if (this.held.buffer.length > 2 * CHUNK_BYTES) this.held = new ByteBuffer(CHUNK_BYTES);
    else this.held.length = 0;
  }
}
