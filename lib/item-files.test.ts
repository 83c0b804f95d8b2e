import test from 'ava';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { UserError } from './errors.ts';
import { readPartLines } from './item-files.ts';
import type { Storage } from './storage.ts';
import type { ItemPart } from './transform-manifest.ts';

/** A store whose object's stream gives `head`, then fails as a read that broke past resuming does. */
const failingRun = (head: Buffer, message: string) => ({
  uri: 's3://b/r',
  get: async () => Readable.from((async function* () {
    yield head;
    await new Promise((resolve) => setTimeout(resolve, 20));
    throw new UserError(message);
  })(), { objectMode: false }),
}) as unknown as Storage;

for (const key of ['items/t/part-00000.json', 'items/t/part-00000.json.gz']) {
  test(`a read of ${key} that fails mid-way rejects the reader with the store's error (no crash, no hang)`, async (t) => {
    const text = '{"Item":{}}\n'.repeat(10_000);
    const head = key.endsWith('.gz') ? gzipSync(text).subarray(0, 200) : Buffer.from(text.slice(0, 24));
    const message = `cannot read s3://b/r/${key}: socket hang up (after 24 bytes and 5 resumes that brought none)`;
    const run = failingRun(head, message);
    const part = { key, sha256: 'x', items: 10_000, bytes: 1 } as unknown as ItemPart;
    const lines = (async () => { for await (const _ of readPartLines(run, part)) { /* read */ } })();
    await t.throwsAsync(lines, { message });
  });
}
