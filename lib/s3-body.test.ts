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

test('a consumer that destroys the stream with an error is not mistaken for a break: no resume is asked for', async (t) => {
  let reopens = 0;
  const first: BodyPart = { body: Readable.from([bytes.subarray(0, 5), bytes.subarray(5)]), etag: '"e1"', length: bytes.length };
  const body = resumingBody(first, async (from) => { reopens++; return part(from); }, 'x');
  await new Promise<void>((resolve) => body.once('data', () => resolve()));
  body.on('error', () => {});
  body.destroy(new Error('the consumer failed'));
  await new Promise((resolve) => body.once('close', resolve));
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.is(reopens, 0);
  t.true(first.body.destroyed);
});

test('a consumer that destroys the stream while a resume waits stops the resuming', async (t) => {
  let reopens = 0;
  const body = resumingBody(part(0, 4), async () => { reopens++; throw new Error('socket hang up'); }, 'x');
  body.on('error', () => {});
  await new Promise<void>((resolve) => body.once('data', () => resolve()));
  // Destroyed while the first resume waits its 100 ms.
  await new Promise((resolve) => setTimeout(resolve, 20));
  body.destroy();
  await new Promise((resolve) => setTimeout(resolve, 30));
  t.is(reopens, 0, 'no resume after the stream was destroyed');
  t.true(body.closed);
});

test('a destroyed stream lets go of a body that sends nothing at once, not when its socket times out', async (t) => {
  const silent = new Readable({ read() {} });
  silent.push(bytes.subarray(0, 4));
  const body = resumingBody({ body: silent, etag: '"e1"', length: bytes.length }, async (from) => part(from), 'x');
  await new Promise<void>((resolve) => body.once('data', () => resolve()));
  body.destroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.true(silent.destroyed);
  t.true(body.closed);
});

test('a resume answered with the whole object (a server that ignores Range) goes on from the first missing byte', async (t) => {
  const asked: number[] = [];
  const body = resumingBody(part(0, 7), async (from) => {
    asked.push(from);
    // 200 with every byte: the response starts at byte 0.
    return { ...part(0), start: 0 };
  }, 'x');
  t.deepEqual(await read(body), bytes);
  t.deepEqual(asked, [7]);
});

test('an error once every byte is in (the SDK\'s checksum check) fails at once with that error, without resumes', async (t) => {
  let reopens = 0;
  const broken = new Readable({ read() {} });
  broken.push(bytes);
  setTimeout(() => broken.destroy(new Error('Checksum mismatch: expected "a" but received "b"')), 20);
  const body = resumingBody({ body: broken, etag: '"e1"', length: bytes.length }, async (from) => { reopens++; return part(from); }, 's3://b/k');
  await t.throwsAsync(read(body), { message: /^cannot read s3:\/\/b\/k: Checksum mismatch: expected "a" but received "b"/ });
  t.is(reopens, 0);
});
