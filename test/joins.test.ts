// Join indexes kept in the run, through the CLI on the stack's S3: `transform
// joins` builds them; a later transform of the joining tables copies them and
// never reads the joined tables (spoiled here: a read would fail on sha256),
// and writes the same items as the run that built them; `transform joins` run
// again finds them kept and copies nothing.
import test from 'ava';
import { runExtract } from '../extract/extract.ts';
import { readExtractManifest } from '../lib/manifest.ts';
import { openStorage } from '../lib/storage.ts';
import { readTransformManifest } from '../lib/transform-manifest.ts';
import { JOINS_PREFIX } from '../transform/join-store.ts';
import { runCli } from './cli.ts';
import { freshBucketPrefix, freshDatabase, stackEnv } from './stack.ts';

const JOINING = ['processing_job_events', 'biometric_registrations'];
const JOINED = ['processing_jobs', 'user_devices'];

test('transform joins keeps the indexes; a rerun of the joining tables copies them instead of reading the joined tables, to the same items', async (t) => {
  t.timeout(180_000);
  const env = stackEnv();
  const url = await freshDatabase(t);
  const store = freshBucketPrefix();
  await runExtract({ databaseUrl: url, store, run: 'r', concurrency: 2, schemas: ['public'], gzipLevel: 1, log: () => {} });
  const run = openStorage(store).sub('r');
  const cli = (args: string[]) => runCli('transform/cli.ts', args, { ...env, STORE: store, RUN: 'r' });

  const joins = await cli(['joins', '--json']);
  t.is(joins.code, 0, joins.stderr);
  const kept = (JSON.parse(joins.stdout) as { joins: { table: string; entries: number }[] }).joins;
  t.deepEqual(kept.map((j) => j.table).sort(), [...JOINED].sort());
  t.true(kept.every((j) => j.entries > 0), joins.stdout);
  t.regex(joins.stderr, /built and kept in the run/);
  t.is((await run.list(JOINS_PREFIX)).length, 4, 'an index and its .json per join');

  const first = await cli(['--json']);
  t.is(first.code, 0, first.stderr);
  t.regex(first.stderr, /from the index kept in the run/);
  t.notRegex(first.stderr, /built and kept/);
  const itemsOf = async () => Object.fromEntries((await readTransformManifest(run))!.tables.filter((x) => JOINING.includes(x.name)).map((x) => [x.name, x.parts.map((p) => p.sha256)]));
  const want = await itemsOf();

  // The joined tables spoiled (same sizes, other bytes), the joining tables' units redone.
  const extract = (await readExtractManifest(run))!;
  for (const table of extract.tables.filter((x) => JOINED.includes(x.name))) for (const part of table.parts) await run.put(part.key, Buffer.alloc(part.bytes, 0x78));
  for (const name of JOINING) for (const o of await run.list(`transform/units/${name}`)) await run.delete(o.key);
  const rerun = await cli(['--json', ...JOINING.flatMap((name) => ['--table', name])]);
  t.is(rerun.code, 0, rerun.stderr);
  t.deepEqual(await itemsOf(), want);

  // transform joins again (a retried orchestration step): the indexes are kept, so it neither builds nor copies them.
  const again = await cli(['joins', '--json']);
  t.is(again.code, 0, again.stderr);
  t.deepEqual((JSON.parse(again.stdout) as { joins: unknown[] }).joins, JSON.parse(joins.stdout).joins);
  t.is(again.stderr.match(/already kept in the run for these inputs/g)?.length, JOINED.length, again.stderr);
  t.notRegex(again.stderr, /from the index kept in the run|built and kept/);

  // --force builds the indexes again, from the joined tables: now it reads them, and the spoiled bytes stop it.
  const forced = await cli(['--force', '--table', 'processing_job_events']);
  t.is(forced.code, 1);
  t.regex(forced.stderr, /processing_jobs\/part-00000\.csv\.gz \(table processing_jobs\) does not match the extract manifest's sha256/);
});
