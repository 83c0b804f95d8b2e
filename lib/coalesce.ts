// Joins a stream's small chunks into larger ones. COPY output arrives as the
// server sends it, about 8 KB at a time (its send buffer): a write per chunk
// to zstd's pipe cost about 1 s of kernel time per 229 MB of CSV (the bench
// database at SCALE=0.2, `--cpu-prof`: writeBuffer), and each chunk was a hop
// to zlib's thread pool for gzip and a sha256 update.
import { Transform, type TransformCallback } from 'node:stream';

/** Chunks of at least `bytes` (the last one may be shorter); a chunk that large already passes as it is. */
export class Coalesce extends Transform {
  private held: Buffer[] = [];
  private size = 0;

  constructor(private readonly bytes = 256 * 1024) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.held.push(chunk);
    this.size += chunk.length;
    if (this.size >= this.bytes) this.release();
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.size > 0) this.release();
    callback();
  }

  private release(): void {
    this.push(this.held.length === 1 ? this.held[0] : Buffer.concat(this.held, this.size));
    this.held = [];
    this.size = 0;
  }
}
