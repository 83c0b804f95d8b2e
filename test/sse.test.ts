// Issue 5, storage: S3 server-side encryption (S3_SSE, S3_SSE_KMS_KEY_ID) on
// every object a stage writes. s3rver keeps only a few metadata headers
// (S3Object.ALLOWED_METADATA and x-amz-meta-*) and never returns
// x-amz-server-side-encryption on HeadObject, so the test looks at what the SDK
// sends instead: scripts/fault-proxy.ts in front of the stack's S3, faulting
// nothing, records every request, and each request that makes an object
// (PutObject, CreateMultipartUpload) must carry the encryption headers.
import test from 'ava';
import type { IncomingHttpHeaders } from 'node:http';
import { randomBytes } from 'node:crypto';
import { openStorage } from '../lib/storage.ts';
import { startFaultProxy } from '../scripts/fault-proxy.ts';
import { runCli } from './cli.ts';
import { freshBucketPrefix, freshDatabase, stackEnv } from './stack.ts';

const KEY_ID = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const SSE = 'x-amz-server-side-encryption';
const SSE_KEY = 'x-amz-server-side-encryption-aws-kms-key-id';

interface ObjectWrite { action: 'PutObject' | 'CreateMultipartUpload' | 'UploadPart'; key: string; headers: IncomingHttpHeaders }

/** A proxy in front of the stack's S3 that records every request making (part of) an object. */
async function recordingProxy(t: { teardown(fn: () => Promise<void>): void }): Promise<{ url: string; writes: ObjectWrite[] }> {
  const writes: ObjectWrite[] = [];
  const bucket = stackEnv().S3_BUCKET!;
  const proxy = await startFaultProxy({
    target: stackEnv().AWS_ENDPOINT_URL_S3!,
    share: 0,
    faults: [],
    onRequest: ({ method, path, headers }) => {
      const u = new URL(path, 'http://s3');
      const key = decodeURIComponent(u.pathname).slice(`/${bucket}/`.length);
      // Path-style requests, as the stack's client sends them: PUT /bucket/key (?partNumber&uploadId for a part), POST /bucket/key?uploads.
      if (method === 'POST' && u.searchParams.has('uploads')) writes.push({ action: 'CreateMultipartUpload', key, headers });
      else if (method === 'PUT' && u.searchParams.has('uploadId')) writes.push({ action: 'UploadPart', key, headers });
      else if (method === 'PUT' && key) writes.push({ action: 'PutObject', key, headers });
    },
  });
  t.teardown(() => proxy.close());
  return { url: proxy.url, writes };
}

/** Every object under a store, as keys from the bucket's root. */
async function objectKeys(store: string): Promise<string[]> {
  const prefix = store.slice(`s3://${stackEnv().S3_BUCKET}/`.length);
  return (await openStorage(store).list('')).map((o) => `${prefix}/${o.key}`);
}

test('with S3_SSE_KMS_KEY_ID, every object extract and transform write is asked for SSE-KMS with that key', async (t) => {
  t.timeout(90_000);
  const url = await freshDatabase(t);
  const proxy = await recordingProxy(t);
  const store = freshBucketPrefix();
  const env = { ...stackEnv(), AWS_ENDPOINT_URL_S3: proxy.url, S3_SSE: 'aws:kms', S3_SSE_KMS_KEY_ID: KEY_ID, STORE: store, RUN: 'r' };

  const extract = await runCli('extract/cli.ts', ['--quiet'], { ...env, DATABASE_URL: url });
  t.is(extract.code, 0, extract.stderr);
  const transform = await runCli('transform/cli.ts', ['--quiet', '--concurrency', '2'], env);
  t.is(transform.code, 0, transform.stderr);

  const creating = proxy.writes.filter((w) => w.action !== 'UploadPart');
  t.true(creating.length > 20, `${creating.length} object writes seen`);
  for (const w of creating) {
    t.is(w.headers[SSE], 'aws:kms', `${w.action} ${w.key}`);
    t.is(w.headers[SSE_KEY], KEY_ID, `${w.action} ${w.key}`);
  }
  // Every object the run holds was made by one of those requests: none came another way.
  const written = new Set(creating.map((w) => w.key));
  const stored = await objectKeys(store);
  t.true(stored.some((k) => k.endsWith('/r/extract/manifest.json')) && stored.some((k) => k.includes('/r/items/')));
  t.deepEqual(stored.filter((k) => !written.has(k)), []);
});

test('a multipart upload asks for the encryption once, on CreateMultipartUpload (S3_SSE=AES256: no key)', async (t) => {
  const proxy = await recordingProxy(t);
  const store = openStorage(freshBucketPrefix(), { ...process.env, ...stackEnv(), AWS_ENDPOINT_URL_S3: proxy.url, S3_SSE: 'AES256', S3_SSE_KMS_KEY_ID: '' });
  // Over the 8 MiB part size: two parts.
  const body = randomBytes(9 * 1024 * 1024);
  t.is((await store.put('big.bin', body)).bytes, body.length);
  t.deepEqual(proxy.writes.map((w) => w.action), ['CreateMultipartUpload', 'UploadPart', 'UploadPart']);
  t.is(proxy.writes[0]!.headers[SSE], 'AES256');
  t.is(proxy.writes[0]!.headers[SSE_KEY], undefined);
  t.deepEqual((await store.list('')).map((o) => [o.key, o.bytes]), [['big.bin', body.length]]);
});

test('without S3_SSE or S3_SSE_KMS_KEY_ID no encryption header is sent: the bucket\'s default encryption applies', async (t) => {
  const proxy = await recordingProxy(t);
  const store = openStorage(freshBucketPrefix(), { ...process.env, ...stackEnv(), AWS_ENDPOINT_URL_S3: proxy.url, S3_SSE: '', S3_SSE_KMS_KEY_ID: '' });
  await store.put('small.json', '{}');
  t.is(proxy.writes.length, 1);
  t.is(proxy.writes[0]!.headers[SSE], undefined);
});

test('an unknown S3_SSE, or a KMS key with AES256, is refused when the store is opened', (t) => {
  const open = (env: Record<string, string>) => () => openStorage('s3://pg2ddb-local/x', { ...stackEnv(), S3_SSE: '', S3_SSE_KMS_KEY_ID: '', ...env });
  t.throws(open({ S3_SSE: 'kms' }), { message: 'invalid S3_SSE="kms": use aws:kms (with S3_SSE_KMS_KEY_ID), aws:kms:dsse or AES256' });
  t.throws(open({ S3_SSE: 'AES256', S3_SSE_KMS_KEY_ID: KEY_ID }), { message: 'S3_SSE=AES256 (SSE-S3) takes no KMS key: unset S3_SSE_KMS_KEY_ID, or set S3_SSE=aws:kms' });
  t.notThrows(open({ S3_SSE_KMS_KEY_ID: KEY_ID }));
});
