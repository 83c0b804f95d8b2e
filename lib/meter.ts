// A pass-through stream that counts and hashes what flows through it, so every
// byte a stage writes (or reads) is accounted for without a second pass.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export class Meter extends Transform {
  bytes = 0;
  private readonly hash: Hash = createHash('sha256');
  private hex: string | undefined;

  constructor(private readonly onChunk?: (chunk: Buffer) => void) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    this.onChunk?.(chunk);
    callback(null, chunk);
  }

  /** The sha256 (hex) of everything that passed; valid once the stream has ended. */
  get sha256(): string {
    this.hex ??= this.hash.digest('hex');
    return this.hex;
  }
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
