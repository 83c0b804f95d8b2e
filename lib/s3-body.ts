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
}

/** The object is not the one the read began with: resuming would splice two versions. */
export class ObjectChangedError extends UserError {}

/**
 * The bytes of `first`, then of `reopen(from, etag)` after each break, as one
 * stream. `name` is for messages. Fails, naming the last error, once
 * BODY_RESUMES resumes in a row brought no byte.
 */
export function resumingBody(first: BodyPart, reopen: (from: number, etag: string | undefined) => Promise<BodyPart>, name: string): Readable {
  async function* bytes(): AsyncGenerator<Buffer> {
    let part = first;
    let received = 0;
    let failures = 0;
    for (;;) {
      const before = received;
      const expected = part.length === undefined ? undefined : received + part.length;
      let broke: unknown;
      try {
        for await (const chunk of part.body) {
          received += (chunk as Buffer).length;
          yield chunk as Buffer;
        }
        if (expected === undefined || received === expected) return;
        // A body that ended short without an error (a proxy that closed cleanly) is a break too.
        broke = new Error(`the body ended after ${received} of ${expected} bytes`);
      } catch (err) {
        broke = err;
      } finally {
        part.body.destroy();
      }
      if (received > before) failures = 0;
      let next: BodyPart | undefined;
      while (!next) {
        if (++failures > BODY_RESUMES) {
          throw new UserError(`cannot read ${name}: ${errorMessage(broke)} (after ${received} bytes and ${BODY_RESUMES} resumes that brought none)`);
        }
        debug(`${name}: the read broke after ${received} bytes (${errorMessage(broke)}); resuming (${failures} of ${BODY_RESUMES})`);
        await sleep(resumeWaitMs(failures));
        try {
          next = await reopen(received, first.etag);
        } catch (err) {
          if (err instanceof ObjectChangedError) throw err;
          broke = err;
        }
      }
      if (next.etag !== first.etag) {
        next.body.destroy();
        throw new ObjectChangedError(`${name} changed while it was read (ETag ${first.etag} became ${next.etag})`);
      }
      part = next;
    }
  }
  return Readable.from(bytes(), { objectMode: false });
}
