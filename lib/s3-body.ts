// An S3 object's body that survives a broken connection. The SDK retries a
// request until its response starts, never a body cut short after that: a
// reset, or a socket silent for SOCKET_TIMEOUT (lib/aws.ts), mid-way through a
// 128 MiB part would fail the whole unit. Instead the read goes on with a
// ranged GetObject from the first byte not yet handed on, pinned to the first
// response's ETag (If-Match, and compared here too: a server that ignores
// If-Match must not splice two versions of an object together).
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError, errorMessage } from './errors.ts';
import { debug } from './log.ts';

/** Resumes in a row with no byte received in between before the read fails. */
export const BODY_RESUMES = 5;
/** Wait before resume n (1-based): 100 ms, doubling, at most 5 s. */
const resumeWaitMs = (n: number) => Math.min(5_000, 100 * 2 ** (n - 1));

export interface BodyPart {
  body: Readable;
  /** The object's version as S3 names it; undefined only from a server that sends none. */
  etag: string | undefined;
  /** The bytes this response holds (Content-Length). */
  length: number | undefined;
  /**
   * The object's byte this response starts at (Content-Range's first byte; 0 for a
   * whole-object 200). Undefined: where it was asked to. A server may ignore Range
   * and send the whole object: its bytes already handed on are skipped, not repeated.
   */
  start?: number;
}

/** The object is not the one the read began with: resuming would splice two versions. */
export class ObjectChangedError extends UserError {}

/**
 * The bytes of `first`, then of `reopen(from, etag)` after each break, as one
 * stream. `name` is for messages. Fails, naming the last error, once
 * BODY_RESUMES resumes in a row brought no byte.
 *
 * A consumer's destroy() is never taken for a break: it ends the read where it
 * is (the body in hand is let go of at once, a resume waiting is not made).
 */
export function resumingBody(first: BodyPart, reopen: (from: number, etag: string | undefined) => Promise<BodyPart>, name: string): Readable {
  let part = first;
  let stopped = false;
  const stop = new AbortController();
  async function* bytes(): AsyncGenerator<Buffer> {
    let received = 0;
    let failures = 0;
    for (;;) {
      const before = received;
      // Bytes of this response that were handed on already (a server that ignored Range).
      let skip = received - (part.start ?? received);
      if (skip < 0) {
        part.body.destroy();
        throw new UserError(`cannot read ${name}: a resumed read from byte ${received} was answered from byte ${part.start}`);
      }
      const expected = part.length === undefined ? undefined : received - skip + part.length;
      let broke: unknown;
      const chunks = part.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      try {
        for (;;) {
          // Only the body's own failures are breaks: an error the consumer throws in at
          // the yield (its destroy(err)) goes straight out, through finally.
          let next: IteratorResult<Buffer>;
          try {
            next = await chunks.next();
          } catch (err) {
            broke = err;
            break;
          }
          if (next.done) break;
          let chunk = next.value;
          if (skip > 0) {
            const dropped = Math.min(skip, chunk.length);
            skip -= dropped;
            chunk = chunk.subarray(dropped);
            if (chunk.length === 0) continue;
          }
          received += chunk.length;
          yield chunk;
        }
      } finally {
        part.body.destroy();
      }
      if (stopped) return;
      if (broke === undefined) {
        if (expected === undefined || received === expected) return;
        // A body that ended short without an error (a proxy that closed cleanly) is a break too.
        broke = new Error(`the body ended after ${received} of ${expected} bytes`);
      } else if (expected !== undefined && received === expected) {
        // Every byte is in and handed on: no transport break but a verdict on them (the SDK's checksum check).
        throw new UserError(`cannot read ${name}: ${errorMessage(broke)}`);
      }
      if (received > before) failures = 0;
      let next: BodyPart | undefined;
      while (!next) {
        if (++failures > BODY_RESUMES) {
          throw new UserError(`cannot read ${name}: ${errorMessage(broke)} (after ${received} bytes and ${BODY_RESUMES} resumes that brought none)`);
        }
        debug(`${name}: the read broke after ${received} bytes (${errorMessage(broke)}); resuming (${failures} of ${BODY_RESUMES})`);
        await sleep(resumeWaitMs(failures), undefined, { signal: stop.signal }).catch(() => {});
        if (stopped) return;
        try {
          next = await reopen(received, first.etag);
        } catch (err) {
          if (err instanceof ObjectChangedError) throw err;
          broke = err;
        }
        if (stopped) {
          next?.body.destroy();
          return;
        }
      }
      if (next.etag !== first.etag) {
        next.body.destroy();
        throw new ObjectChangedError(`${name} changed while it was read (ETag ${first.etag} became ${next.etag})`);
      }
      part = next;
    }
  }
  const out = Readable.from(bytes(), { objectMode: false });
  // Readable.from's destroy waits for the generator to reach a yield: a body that sends
  // nothing (a stalled socket) would hold it, and the connection, until SOCKET_TIMEOUT.
  const destroyGenerator = out._destroy.bind(out);
  out._destroy = (err, callback) => {
    stopped = true;
    stop.abort();
    part.body.destroy();
    destroyGenerator(err, callback);
  };
  return out;
}
