// COMPRESSION=zstd end to end on the local stack: transform writes .json.zst
// item files holding the same items as gzip's, a switch redoes every unit and
// removes the other files, ImportTable (the local endpoint, InputCompressionType
// ZSTD) imports them, and a batch load reads them.
import test from 'ava';
import { createHash } from 'node:crypto';
import { DescribeImportCommand } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { decompress } from '../lib/compression.ts';
import { openStorage, type Storage } from '../lib/storage.ts';
import type { TransformManifest } from '../lib/transform-manifest.ts';
import { runLoad } from '../load/load.ts';
import { DEFAULT_SETTINGS } from '../model/table-spec.ts';
import { writeDumpRun } from '../scripts/golden.ts';
import { runTransform } from '../transform/runner.ts';
import { runCli } from './cli.ts';
import { freshBucketPrefix, randomName, stackEnv } from './stack.ts';

const env = stackEnv();
const quiet = () => {};
const ddb = dynamoClient(env);
test.after.always(() => ddb.destroy());

const transform = (store: string, compression: 'gzip' | 'zstd', log: (line: string) => void = quiet) =>
  runTransform({ store, run: 'r', concurrency: 2, gzipLevel: 1, compression, unmapped: 'fail', dropExpired: false, log });

/** Every item line of the run, sorted (the files' order is a shuffle of each part). */
async function sortedLines(run: Storage, manifest: TransformManifest): Promise<string[]> {
  const lines: string[] = [];
  for (const part of manifest.tables.flatMap((t) => t.parts)) {
    const text = Buffer.concat(await decompress(await run.get(part.key), part.key).toArray()).toString('utf8');
    lines.push(...text.split('\n').filter((l) => l !== ''));
  }
  return lines.sort();
}

test('zstd item files: same items as gzip, a switch redoes the units, ImportTable imports them with ZSTD, batch load reads them', async (t) => {
  const store = freshBucketPrefix();
  await writeDumpRun(store, 'r');
  const run = openStorage(store).sub('r');
  const gzip = await transform(store, 'gzip');
  const gzipLines = await sortedLines(run, gzip);
  t.is(gzip.options.compression, undefined, 'a gzip manifest is unchanged');

  const said: string[] = [];
  const zstd = await transform(store, 'zstd', (line) => said.push(line));
  t.is(zstd.options.compression, 'zstd');
  const unitLines = said.filter((line) => line.includes(' JSON → '));
  t.true(unitLines.length > 0 && unitLines.every((line) => / JSON → [\d.]+ [KMG]?B zstd$/.test(line)), unitLines.join('\n'));
  const keys = (await run.list('items')).map((o) => o.key);
  t.true(keys.length > 0 && keys.every((k) => k.endsWith('.json.zst')), 'the .json.gz files are gone');
  t.deepEqual(zstd.tables.flatMap((t) => t.parts.map((p) => p.key)).sort(), keys.sort());
  const zstdLines = await sortedLines(run, zstd);
  t.is(zstdLines.length, gzip.totals.items_out);
  t.is(createHash('sha256').update(zstdLines.join('\n')).digest('hex'), createHash('sha256').update(gzipLines.join('\n')).digest('hex'));
  t.is(zstd.totals.raw_bytes, gzip.totals.raw_bytes, 'the same JSON bytes');

  const tableName = randomName('zst_');
  const imported = await runCli('load/cli.ts', ['--mode', 'import', '--poll-seconds', '0.2', '--no-deletion-protection'], { ...env, STORE: store, RUN: 'r', DDB_TABLE: tableName });
  t.is(imported.code, 0, imported.stderr);
  const report = JSON.parse(imported.stdout) as { import: { import_arn: string } };
  t.like(JSON.parse(imported.stdout), { mode: 'import', ok: true, totals: { items: zstd.totals.items_out, written: zstd.totals.items_out } });
  const described = (await ddb.send(new DescribeImportCommand({ ImportArn: report.import.import_arn }))).ImportTableDescription!;
  t.like(described, { ImportStatus: 'COMPLETED', InputCompressionType: 'ZSTD', ImportedItemCount: zstd.totals.items_out, ErrorCount: 0 });

  const batch = await runLoad({
    store, run: 'r', tableName: randomName('zstb_'), mode: 'batch', concurrency: 4, tables: ['users'],
    settings: { ...DEFAULT_SETTINGS, deletionProtection: false, ttl: false }, log: quiet,
  });
  const users = zstd.tables.find((x) => x.name === 'users')!.items_out;
  t.true(batch.ok);
  t.true(users > 0);
  t.is(batch.totals.written, users);
});
