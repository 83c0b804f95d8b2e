import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import test from 'ava';
import { UserError } from '../lib/errors.ts';
import { sha256Hex } from '../lib/meter.ts';
import { openStorage } from '../lib/storage.ts';
import type { ItemPart } from '../lib/transform-manifest.ts';
import { startRunSideThread } from './verify-run-thread.ts';
import { RUN_RECORD_BYTES } from './verify-items.ts';

test('the item-file thread returns every line as a sorted record, and a file changed after transform as a UserError naming it', async (t) => {
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-runside-'));
  t.teardown(() => rm(store, { recursive: true, force: true }));
  const lines = ['b', 'a', 'c'].map((k) => JSON.stringify({ Item: { PK: { S: `USER#${k}` }, SK: { S: 'PROFILE' }, entity_type: { S: 'user' } } }));
  const gz = gzipSync(`${lines.join('\n')}\n`);
  const key = 'items/users/part-00000.json.gz';
  await openStorage(store).sub('r').put(key, gz);
  const part = { key, items: 3, sha256: sha256Hex(gz) } as ItemPart;
  const job = { store, runId: 'r', unitIndexes: [0], concurrency: 1 };

  const side = await startRunSideThread({ ...job, units: [{ table: 'users', entity_type: 'user', part }] }).result;
  t.is(side.total, 3);
  const records: Buffer[] = [];
  for await (const r of side.sorted()) records.push(Buffer.from(r));
  side.close();
  t.is(records.length, 3);
  t.deepEqual(records.map((r) => r.length), [RUN_RECORD_BYTES, RUN_RECORD_BYTES, RUN_RECORD_BYTES]);
  t.deepEqual([...records].sort(Buffer.compare), records, 'in key-hash order');
  t.deepEqual(records.map((r) => r.readUInt32BE(36)).sort(), [1, 2, 3], 'every line once');

  const tampered = startRunSideThread({ ...job, units: [{ table: 'users', entity_type: 'user', part: { ...part, sha256: '0'.repeat(64) } }] });
  const err = await t.throwsAsync(tampered.result, { message: /items\/users\/part-00000\.json\.gz does not match the transform manifest's sha256/ });
  t.true(err instanceof UserError);
});
