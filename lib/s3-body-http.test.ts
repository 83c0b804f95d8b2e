// S3Storage.get through the real SDK against a minimal S3 stand-in (GetObject
// only), for server behaviours s3rver does not have: Range ignored, a body cut
// off, a consumer that stops reading for longer than SOCKET_TIMEOUT.
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStorage } from './storage.ts';

const object = randomBytes(3 * 1024 * 1024);
const etag = `"${createHash('md5').update(object).digest('hex')}"`;

interface Behaviour {
  /** Answers a ranged GET with the whole object (200), as HTTP lets a server do. */
  ignoreRange?: boolean;
  /** The first GET is cut (reset) after this many bytes. */
  cutFirstAt?: number;
}

async function fakeS3(t: { teardown: (f: () => void) => void }, behaviour: Behaviour) {
  const asked: string[] = [];
  let requests = 0;
  const server = http.createServer((req, res) => {
    const n = requests++;
    const range = req.headers.range;
    asked.push(range ?? 'whole');
    const m = /^bytes=(\d+)-(\d*)$/.exec(range ?? '');
    const ranged = m !== null && !behaviour.ignoreRange;
    const from = ranged ? Number(m[1]) : 0;
    const to = ranged && m[2] ? Math.min(Number(m[2]), object.length - 1) : object.length - 1;
    const body = object.subarray(from, to + 1);
    res.writeHead(ranged ? 206 : 200, {
      'content-length': body.length, etag, 'content-type': 'application/octet-stream',
      ...(ranged ? { 'content-range': `bytes ${from}-${to}/${object.length}` } : {}),
    });
    if (n === 0 && behaviour.cutFirstAt !== undefined) {
      res.write(body.subarray(0, behaviour.cutFirstAt), () => setTimeout(() => req.socket.resetAndDestroy(), 20));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => { server.closeAllConnections(); server.close(); });
  const env = {
    AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', SOCKET_TIMEOUT: '1',
  };
  return { store: openStorage('s3://bucket/prefix', env), asked };
}

async function readAll(stream: NodeJS.ReadableStream, pauseAfter?: number, pauseMs = 0): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  let paused = false;
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
    got += (chunk as Buffer).length;
    if (pauseAfter !== undefined && !paused && got >= pauseAfter) {
      paused = true;
      await sleep(pauseMs);
    }
  }
  return Buffer.concat(chunks);
}

test('a body cut mid-way on a server that ignores Range is resumed with no byte twice', async (t) => {
  const { store, asked } = await fakeS3(t, { ignoreRange: true, cutFirstAt: 1024 * 1024 });
  const got = await readAll(await store.get('k'));
  t.is(got.length, object.length);
  t.true(got.equals(object));
  t.is(asked.length, 2);
  t.regex(asked[1]!, /^bytes=\d+-$/);
});

test('a consumer that stops reading for longer than SOCKET_TIMEOUT gets every byte once, resumed', async (t) => {
  t.timeout(30_000);
  const { store, asked } = await fakeS3(t, {});
  const got = await readAll(await store.get('k'), 256 * 1024, 2_500);
  t.true(got.equals(object));
  t.true(asked.length >= 2, asked.join(', '));
});

test('getRange and getText resume a body cut mid-way as get does', async (t) => {
  const cut = await fakeS3(t, { cutFirstAt: 100_000 });
  const range = await cut.store.getRange('k', 1000, 2_000_000);
  t.true(range.equals(object.subarray(1000, 2_000_000)));
  t.deepEqual(cut.asked, ['bytes=1000-1999999', 'bytes=101000-1999999']);
  const again = await fakeS3(t, { cutFirstAt: 100_000 });
  const text = await again.store.getText('k');
  t.is(text, object.toString('utf8'));
});

test('getRange from a server that ignores Range gives the bytes asked for', async (t) => {
  const { store } = await fakeS3(t, { ignoreRange: true });
  const range = await store.getRange('k', 1000, 5000);
  t.true(range.equals(object.subarray(1000, 5000)));
});
