// The local stack itself: each service answers as the stages will use it.
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import pg from 'pg';
import { GetObjectCommand, DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { s3Client } from '../lib/aws.ts';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCli } from './cli.ts';
import { freshBucketPrefix, freshDatabase, freshDynamoTable, stackEnv, stackEnvFile } from './stack.ts';

const FIXTURE_TABLES = 16;

async function countTables(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`,
    );
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

test('PostgreSQL answers and the fixture database holds the 16 tables', async (t) => {
  t.is(await countTables(stackEnv().DATABASE_URL!), FIXTURE_TABLES);
});

test('freshDatabase gives a loaded database of its own, or an empty one', async (t) => {
  const loaded = await freshDatabase(t);
  const empty = await freshDatabase(t, { load: false });
  t.not(loaded, empty);
  t.is(await countTables(loaded), FIXTURE_TABLES);
  t.is(await countTables(empty), 0);
});

/** Deterministic bytes, in 1 MiB chunks, so the upload is streamed with no known length. */
function* chunks(total: number, seed: Buffer): Generator<Buffer> {
  for (let i = 0; i * 2 ** 20 < total; i++) {
    const block = Buffer.alloc(Math.min(2 ** 20, total - i * 2 ** 20));
    for (let off = 0; off < block.length; off += 32) {
      createHash('sha256').update(seed).update(`${i}:${off}`).digest().copy(block, off);
    }
    yield block;
  }
}

async function sha256Of(s3: S3Client, bucket: string, key: string): Promise<{ sha256: string; length: number }> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('sha256');
  let length = 0;
  for await (const chunk of object.Body as Readable) { hash.update(chunk as Buffer); length += (chunk as Buffer).length; }
  return { sha256: hash.digest('hex'), length };
}

function sha256OfChunks(size: number, seed: Buffer): string {
  const hash = createHash('sha256');
  for (const chunk of chunks(size, seed)) hash.update(chunk);
  return hash.digest('hex');
}

test('a multi-MB stream uploaded to s3rver in parts reads back byte for byte', async (t) => {
  const env = stackEnv();
  const s3 = s3Client(env);
  t.teardown(() => s3.destroy());
  const key = `${new URL(freshBucketPrefix()).pathname.slice(1)}/multipart.bin`;
  const size = 12 * 2 ** 20 + 12345; // > 5 MiB: Upload switches to multipart
  const seed = randomBytes(8);

  const upload = new Upload({ client: s3, params: { Bucket: env.S3_BUCKET!, Key: key, Body: Readable.from(chunks(size, seed)) } });
  let parts = 0;
  upload.on('httpUploadProgress', (p) => { parts = Math.max(parts, p.part ?? 0); });
  await upload.done();
  t.teardown(async () => { await s3.send(new DeleteObjectCommand({ Bucket: env.S3_BUCKET!, Key: key })); });
  t.true(parts >= 2, `expected a multipart upload, saw ${parts} part(s)`);
  t.deepEqual(await sha256Of(s3, env.S3_BUCKET!, key), { sha256: sha256OfChunks(size, seed), length: size });
});

// A streamed PutObject is what the SDK frames as aws-chunked with a trailing
// checksum; s3rver would store that framing inside the object unless
// lib/aws.ts turns request checksums off for local endpoints.
test('a streamed PutObject to s3rver reads back byte for byte', async (t) => {
  const env = stackEnv();
  const s3 = s3Client(env);
  t.teardown(() => s3.destroy());
  const key = `${new URL(freshBucketPrefix()).pathname.slice(1)}/streamed.bin`;
  const size = 3 * 2 ** 20 + 777;
  const seed = randomBytes(8);

  await s3.send(new PutObjectCommand({ Bucket: env.S3_BUCKET!, Key: key, Body: Readable.from(chunks(size, seed)), ContentLength: size }));
  t.teardown(async () => { await s3.send(new DeleteObjectCommand({ Bucket: env.S3_BUCKET!, Key: key })); });
  t.deepEqual(await sha256Of(s3, env.S3_BUCKET!, key), { sha256: sha256OfChunks(size, seed), length: size });
});

// Two writers of one run's .tmp/: one deletes its finished file while the
// other puts a new one. Plain s3rver removes the emptied directory under the
// put and dies of the unhandled ENOENT (scripts/stack/s3rver.cjs).
test('s3rver survives a delete and a put into the same directory at once, and keeps the put', async (t) => {
  const env = stackEnv();
  const s3 = s3Client(env);
  t.teardown(() => s3.destroy());
  const Bucket = env.S3_BUCKET!;
  const prefix = new URL(freshBucketPrefix()).pathname.slice(1);
  for (let round = 0; round < 100; round++) {
    const dir = `${prefix}/${round}/.tmp`;
    await s3.send(new PutObjectCommand({ Bucket, Key: `${dir}/done`, Body: 'x' }));
    await Promise.all([
      s3.send(new DeleteObjectCommand({ Bucket, Key: `${dir}/done` })),
      s3.send(new PutObjectCommand({ Bucket, Key: `${dir}/next`, Body: 'y'.repeat(1000) })),
    ]);
    const kept = await s3.send(new GetObjectCommand({ Bucket, Key: `${dir}/next` }));
    t.is((await kept.Body!.transformToString()).length, 1000, `round ${round}`);
  }
});

test('DynamoDB answers CreateTable, PutItem and GetItem', async (t) => {
  const env = stackEnv();
  const ddb = dynamoClient(env);
  t.teardown(() => ddb.destroy());
  const TableName = await freshDynamoTable(t, ddb, 'stack-test-');

  const Item = { PK: { S: 'USER#1' }, SK: { S: 'PROFILE' }, n: { N: '42' }, tags: { SS: ['a', 'b'] } };
  await ddb.send(new PutItemCommand({ TableName, Item }));
  const { Item: read } = await ddb.send(new GetItemCommand({ TableName, Key: { PK: Item.PK, SK: Item.SK }, ConsistentRead: true }));
  t.deepEqual(read, Item);
});

test('make up with another SCALE on a running stack refuses, names the fix, and leaves the stack as it was', async (t) => {
  const dir = path.dirname(stackEnvFile());
  const scale = stackEnv().FIXTURE_SCALE;
  const other = scale === '0.001' ? '0.002' : '0.001';
  const result = await runCli('scripts/stack.ts', ['up'], { STACK_DIR: dir, SCALE: other });
  t.is(result.code, 1, result.stderr);
  t.true(result.stderr.includes(`already up with ${scale ? `SCALE=${scale} data` : 'the small fixture'}, not SCALE=${other}: run \`make down\`, then \`make up SCALE=${other}\``), result.stderr);
  t.is(await countTables(stackEnv().DATABASE_URL!), FIXTURE_TABLES);
});

// What made a CI run lose 17 tests at once: s3rver died mid-suite, and a
// test's `make up` then restarted the whole stack on new ports under the
// suite. Now `up` refuses, and `run` names the service that died.
test('a service of a running `run` dies: `up` refuses to restart the stack under it, and `run` names the service and its log', async (t) => {
  t.timeout(180_000);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-stack-'));
  await chmod(dir, 0o755); // the embedded PostgreSQL runs as another user than root
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const script = 'kill "$(cat "$STACK_DIR/s3.pid")"; sleep 1; node --import tsx/esm scripts/stack.ts up; echo "up exited $?"; cat "$STACK_DIR/env" > "$STACK_DIR/env-after-up"';
  const result = await runCli('scripts/stack.ts', ['run', '--', 'bash', '-c', script], { STACK_DIR: dir, SCALE: '' }, 150_000);
  t.is(result.code, 0, result.stderr);
  t.true(result.stdout.includes('up exited 1'), result.stdout);
  const said = result.stderr.split('\n').filter((l) => l.includes(`the stack's s3 in ${dir}`));
  t.is(said.length, 2, `up's refusal and run's notice: ${result.stderr}`);
  t.true(result.stderr.includes(`${dir}/s3.log ends with:`), result.stderr);
  t.regex(result.stderr, /down in [\d.]+ s: stopped postgres, dynamodb, import-endpoint|down in [\d.]+ s: stopped dynamodb, import-endpoint/);
  t.false(result.stderr.includes('stopped postgres, s3'), 'nothing restarted s3');
});
