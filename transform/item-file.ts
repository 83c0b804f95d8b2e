// A unit's item file: its held lines in their order, compressed, to the store.
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { compressor, type Compression } from '../lib/compression.ts';
import type { PutResult, Storage } from '../lib/storage.ts';
import { ChunkPool, type HeldLines } from './item-order.ts';

/** Writes `held`'s lines in order, compressed, to `key`; returns the stored object and the uncompressed bytes. */
export async function writeItemFile(run: Storage, key: string, held: HeldLines, compression: Compression, gzipLevel: number): Promise<[PutResult, number]> {
  // Counted, not hashed: only the stored bytes' sha256 is recorded (hashing the JSON cost ~8% of a unit's CPU).
  let jsonBytes = 0;
  const packer = compressor(compression, compression === 'gzip' ? gzipLevel : 1);
  const writing = run.put(key, packer);
  // A write that fails before it reads (mkdir on a read-only store) must still end the input.
  writing.catch((err: Error) => packer.destroy(err));
  // gzip and zstd have taken a chunk's bytes when its write calls back, so its buffer is reused;
  // without compression the chunk itself is handed on, so never.
  const pool = new ChunkPool();
  const encoding = (async () => {
    for (const chunk of held.inOrder(pool)) {
      jsonBytes += chunk.length;
      const more = packer.write(chunk, compression === 'none' ? undefined : (err) => { if (!err) pool.give(chunk); });
      if (!more) await drained(packer);
    }
    packer.end();
    await finished(packer, { readable: false });
  })();
  encoding.catch(() => {});
  try {
    const [stored] = await Promise.all([writing, encoding]);
    return [stored, jsonBytes];
  } catch (err) {
    packer.destroy(err instanceof Error ? err : undefined);
    await Promise.allSettled([writing, encoding]);
    // The write's error names the file and its cause; the stream's is only its echo.
    throw await writing.then(() => err, (writeErr: unknown) => writeErr);
  }
}

/** Resolves on the stream's next 'drain'; rejects if it errs or closes first. */
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (err?: Error) => {
      stream.off('drain', onDrain).off('error', settle).off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => settle();
    const onClose = () => settle(new Error('the compressor closed before the item file was written'));
    stream.on('drain', onDrain).on('error', settle).on('close', onClose);
  });
}
