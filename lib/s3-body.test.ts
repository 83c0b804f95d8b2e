// resumingBody with plain streams standing in for GetObject's bodies: the
// cases a proxy does not make (a body that ends short without an error).
import test from 'ava';
import { Readable } from 'node:stream';
import { BODY_RESUMES, resumingBody, type BodyPart } from './s3-body.ts';

const bytes = Buffer.from('0123456789abcdefghij');

/** A body of `bytes[from..]` that ends cleanly after `give` bytes (all of them when undefined). */
const part = (from: number, give?: number, etag = '"e1"'): BodyPart => ({
  body: Readable.from([bytes.subarray(from, give === undefined ? undefined : from + give)]),
  etag,
  length: bytes.length - from,
});

async function read(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

test('a body that ends short without an error is resumed from its first missing byte', async (t) => {
  const asked: number[] = [];
  const body = resumingBody(part(0, 7), async (from) => {
    asked.push(from);
    return part(from, 5);
  }, 'x');
  t.deepEqual(await read(body), bytes);
  t.deepEqual(asked, [7, 12, 17]);
});

test('resumes that bring no byte fail after BODY_RESUMES of them, naming the object and the bytes read', async (t) => {
  let calls = 0;
  const body = resumingBody(part(0, 4), async (from) => {
    calls++;
    return part(from, 0);
  }, 's3://b/k');
  await t.throwsAsync(read(body), { message: `cannot read s3://b/k: the body ended after 4 of 20 bytes (after 4 bytes and ${BODY_RESUMES} resumes that brought none)` });
  t.is(calls, BODY_RESUMES);
});

test('a resume that finds another ETag fails instead of splicing two versions', async (t) => {
  const body = resumingBody(part(0, 4), async (from) => part(from, undefined, '"e2"'), 's3://b/k');
  await t.throwsAsync(read(body), { message: 's3://b/k changed while it was read (ETag "e1" became "e2")' });
});

test('a failed resume request counts as a resume that brought nothing, and a later one goes on', async (t) => {
  let calls = 0;
  const body = resumingBody(part(0, 4), async (from) => {
    if (++calls < 3) throw new Error('socket hang up');
    return part(from);
  }, 'x');
  t.deepEqual(await read(body), bytes);
  t.is(calls, 3);
});
