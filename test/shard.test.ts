// Issue 9: extract and transform sharded across separate processes (as
// machines would run them) give the same bytes as one process, and a shard
// lost mid-way is rerun alone.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import test, { type ExecutionContext } from 'ava';
import { openStorage, type Storage } from '../lib/storage.ts';
import { runCli, REPO, type CliResult, cliArgv } from './cli.ts';
import { freshBucketPrefix, freshDatabase, runOutputs } from './stack.ts';

const SPLIT_ROWS = '400';

/** Starts `extract snapshot --hold` and waits for the snapshot id it prints. */
async function startCoordinator(t: ExecutionContext, env: Record<string, string>): Promise<{ child: ChildProcess; snapshot: string }> {
  const child = spawn(process.execPath, cliArgv('extract/cli.ts', ['snapshot', '--hold', '--split-rows', SPLIT_ROWS, '--quiet']), {
    cwd: REPO, env: { ...process.env, TABLE: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => { child.kill('SIGKILL'); });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  for await (const chunk of child.stdout!) {
    out += chunk;
    if (out.includes('\n')) break;
  }
  if (!out.includes('\n')) throw new Error(`coordinator printed no snapshot: ${err}`);
  return { child, snapshot: JSON.parse(out).snapshot_id as string };
}

/** Runs one CLI per shard of n, all at once; every one must succeed. */
async function runShards(t: ExecutionContext, script: string, n: number, args: string[], env: Record<string, string>): Promise<void> {
  const results = await Promise.all(Array.from({ length: n }, (_, i) => runCli(script, ['--shard', `${i + 1}/${n}`, '--quiet', ...args], env)));
  results.forEach((r, i) => t.is(r.code, 0, `${script} shard ${i + 1}/${n}: ${r.stderr}`));
}

function ok(t: ExecutionContext, result: CliResult, what: string): void {
  t.is(result.code, 0, `${what}: ${result.stderr}`);
}

const outputs = runOutputs;

/** Empties the run for the next try, keeping the coordinator's plan and lock. */
async function clearRun(run: Storage): Promise<void> {
  for (const { key } of await run.list('')) if (key !== 'extract/plan.json' && !key.startsWith('.locks/')) await run.delete(key);
}

/** Starts a CLI and kills it (SIGKILL) once `ready()` holds; false when it finished first. */
async function killWhen(script: string, args: string[], env: Record<string, string>, ready: () => Promise<boolean>): Promise<boolean> {
  const child = spawn(process.execPath, cliArgv(script, args), { cwd: REPO, env: { ...process.env, TABLE: '', ...env }, stdio: 'ignore' });
  const exited = once(child, 'exit');
  let finished = false;
  void exited.then(() => { finished = true; });
  while (!finished && !(await ready())) await new Promise((r) => setTimeout(r, 10));
  const killed = !finished;
  if (killed) child.kill('SIGKILL');
  await exited;
  return killed;
}

test('extract and transform in 1, 2 and 4 concurrent shards give byte-identical parts, items and manifests, equal to an unsharded run', async (t) => {
  t.timeout(300_000);
  const url = await freshDatabase(t, { scale: 0.004 });
  const store = freshBucketPrefix();
  const env = { DATABASE_URL: url, STORE: store, RUN: 'sharded' };
  const run = openStorage(store).sub('sharded');
  const { snapshot } = await startCoordinator(t, env);
  const plan = JSON.parse((await run.getText('extract/plan.json'))!);
  t.true(plan.units.length >= 8, `the plan has several parts to share (${plan.units.length})`);

  const results = new Map<number, Record<string, string>>();
  for (const n of [1, 2, 4]) {
    await clearRun(run);
    await runShards(t, 'extract/cli.ts', n, ['--snapshot', snapshot, '--concurrency', '2'], env);
    t.is((await run.list('extract/shards')).length, n, `${n}: one fragment per shard`);
    ok(t, await runCli('extract/cli.ts', ['finalize', '--quiet'], env), `extract finalize (${n})`);
    await runShards(t, 'transform/cli.ts', n, ['--concurrency', '1'], env);
    ok(t, await runCli('transform/cli.ts', ['finalize', '--quiet'], env), `transform finalize (${n})`);
    results.set(n, await outputs(run));
  }
  const one = results.get(1)!;
  t.true(Object.keys(one).filter((k) => k.startsWith('items/')).length >= 8, 'several item files');
  t.truthy(one['extract/manifest.json']);
  t.truthy(one['transform/manifest.json']);
  t.deepEqual(results.get(2), one, '2 shards = 1 shard, every byte');
  t.deepEqual(results.get(4), one, '4 shards = 1 shard, every byte');

  // One process, its own snapshot of the same data: the same parts and items.
  const single = openStorage(store).sub('single');
  const singleEnv = { ...env, RUN: 'single' };
  ok(t, await runCli('extract/cli.ts', ['--split-rows', SPLIT_ROWS, '--quiet'], singleEnv), 'unsharded extract');
  ok(t, await runCli('transform/cli.ts', ['--quiet'], singleEnv), 'unsharded transform');
  const unsharded = await outputs(single);
  const dataFiles = (hashes: Record<string, string>) => Object.fromEntries(Object.entries(hashes).filter(([k]) => /^(extract|items)\/.*\.gz$/.test(k)));
  t.deepEqual(dataFiles(one), dataFiles(unsharded), 'sharded parts and items = unsharded ones');
});

test('a shard killed mid-way is rerun alone: finalize refuses the gap, and the result is byte-identical to an uninterrupted sharded run', async (t) => {
  t.timeout(300_000);
  const url = await freshDatabase(t, { scale: 0.01 });
  const store = freshBucketPrefix();
  const env = { DATABASE_URL: url, STORE: store, RUN: 'lossy' };
  const run = openStorage(store).sub('lossy');
  const coordinator = await startCoordinator(t, env);
  const count = async (prefix: string, suffix: string) => (await run.list(prefix)).filter((o) => o.key.endsWith(suffix)).length;

  // The reference: both shards uninterrupted.
  await runShards(t, 'extract/cli.ts', 2, ['--concurrency', '1'], env);
  ok(t, await runCli('extract/cli.ts', ['finalize', '--quiet'], env), 'extract finalize');
  await runShards(t, 'transform/cli.ts', 2, ['--concurrency', '1'], env);
  ok(t, await runCli('transform/cli.ts', ['finalize', '--quiet'], env), 'transform finalize');
  const reference = await outputs(run);
  await clearRun(run);

  // Extract: shard 1 finishes; shard 2 dies after its first part.
  ok(t, await runCli('extract/cli.ts', ['--shard', '1/2', '--quiet', '--concurrency', '1'], env), 'extract shard 1/2');
  const partsOfShard1 = await count('extract', '.csv.gz');
  t.true(await killWhen('extract/cli.ts', ['--shard', '2/2', '--quiet', '--concurrency', '1'], env, async () => (await count('extract', '.csv.gz')) > partsOfShard1), 'extract shard 2/2 was killed mid-way');
  const gap = await runCli('extract/cli.ts', ['finalize', '--quiet'], env);
  t.not(gap.code, 0, 'finalize refuses an extract with a lost shard');
  t.regex(gap.stderr, /not complete: \d+ of \d+ part\(s\) have no shard fragment/);
  t.is(await run.getText('extract/manifest.json'), undefined, 'and writes no manifest');
  // status names the shard left to run, not a fresh unsharded extract.
  const extractStatus = await runCli('plan/run-status-cli.ts', ['--json'], env);
  t.like(JSON.parse(extractStatus.stdout), { shards: { stage: 'extract', count: 2, done: [1] }, next: 'make extract RUN=lossy SHARD=2/2, then make finalize RUN=lossy STAGE=extract' });
  ok(t, await runCli('extract/cli.ts', ['--shard', '2/2', '--quiet', '--concurrency', '1'], env), 'extract shard 2/2 rerun');
  ok(t, await runCli('extract/cli.ts', ['finalize', '--quiet'], env), 'extract finalize after the rerun');

  // Transform: the same with shard 1 lost after its first unit.
  ok(t, await runCli('transform/cli.ts', ['--shard', '2/2', '--quiet', '--concurrency', '1'], env), 'transform shard 2/2');
  const itemsOfShard2 = await count('items', '.json.gz');
  t.true(await killWhen('transform/cli.ts', ['--shard', '1/2', '--quiet', '--concurrency', '1'], env, async () => (await count('items', '.json.gz')) > itemsOfShard2), 'transform shard 1/2 was killed mid-way');
  const transformGap = await runCli('transform/cli.ts', ['finalize', '--quiet'], env);
  t.not(transformGap.code, 0, 'finalize refuses a transform with a lost shard');
  t.regex(transformGap.stderr, /not complete: \d+ of \d+ unit\(s\) are in no shard's fragment/);
  const transformStatus = await runCli('plan/run-status-cli.ts', ['--json'], env);
  t.like(JSON.parse(transformStatus.stdout), { shards: { stage: 'transform', count: 2, done: [2] }, next: 'make transform RUN=lossy SHARD=1/2, then make finalize RUN=lossy STAGE=transform' });
  ok(t, await runCli('transform/cli.ts', ['--shard', '1/2', '--quiet', '--concurrency', '1'], env), 'transform shard 1/2 rerun');
  ok(t, await runCli('transform/cli.ts', ['finalize', '--quiet'], env), 'transform finalize after the rerun');
  t.deepEqual(await outputs(run), reference, 'every byte as in the uninterrupted run');

  // Without its coordinator the snapshot is gone: a shard says so instead of copying another instant.
  coordinator.child.kill('SIGTERM');
  await once(coordinator.child, 'exit');
  const orphan = await runCli('extract/cli.ts', ['--shard', '1/2', '--quiet'], env);
  t.not(orphan.code, 0);
  t.regex(orphan.stderr, /snapshot \S+ is no longer held/);
});

test('while its coordinator holds the run, no other extract writes it: another TABLE= extract or coordinator is refused, a shard stops under another extract\'s lock, and finalize writes beside it', async (t) => {
  t.timeout(420_000);
  const url = await freshDatabase(t, { scale: 0.002 });
  const store = freshBucketPrefix();
  const env = { DATABASE_URL: url, STORE: store, RUN: 'held' };
  const run = openStorage(store).sub('held');
  const coordinator = await startCoordinator(t, env);
  const plan = JSON.parse((await run.getText('extract/plan.json'))!);
  t.deepEqual((await run.list('.locks/extract')).map((o) => o.key), [plan.lock], 'the plan names the lock its coordinator holds');
  const status = async () => JSON.parse((await runCli('plan/run-status-cli.ts', ['--json'], env)).stdout);
  const held = await status();
  t.like(held.extracts_running?.[0], { what: 'the coordinator of a sharded extract', coordinator: true, finalized: false });
  t.regex(held.next, /^make extract RUN=held SHARD=i\/n on each of n machines/);

  const other = await runCli('extract/cli.ts', ['--quiet'], { ...env, TABLE: 'users' });
  t.is(other.code, 1);
  t.regex(other.stderr, /^extract: error: another extract is writing run .*\/held \(the coordinator of a sharded extract; host \S+, pid \d+, /);
  const second = await runCli('extract/cli.ts', ['snapshot', '--hold', '--quiet'], env);
  t.is(second.code, 1, 'a retried coordinator would overwrite the plan under the first one\'s shards');
  t.regex(second.stderr, /another extract is writing run .*\(the coordinator of a sharded extract; /);
  t.is(JSON.parse((await run.getText('extract/plan.json'))!).snapshot_id, coordinator.snapshot, 'the plan is the first coordinator\'s');

  // A plan replaced while a shard copies (a new coordinator's): the shard writes no fragment.
  const shard = spawn(process.execPath, cliArgv('extract/cli.ts', ['--shard', '1/1', '--quiet', '--concurrency', '1']), { cwd: REPO, env: { ...process.env, TABLE: '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let shardErr = '';
  shard.stderr.on('data', (d) => (shardErr += d));
  let shardEnded = false;
  const shardExit = once(shard, 'exit').finally(() => { shardEnded = true; });
  while (!shardEnded && (await run.list('extract')).filter((o) => o.key.endsWith('.csv.gz')).length === 0) await new Promise((r) => setTimeout(r, 20));
  await run.put('extract/plan.json', JSON.stringify({ ...plan, snapshot_id: 'another' }));
  const [shardCode] = await shardExit;
  t.is(shardCode, 1, shardErr);
  t.regex(shardErr, /^extract: error: .*\/held\/extract\/plan\.json is now another coordinator's \(snapshot another\) while this shard copied snapshot \S+: it writes no fragment; /);
  t.deepEqual(await run.list('extract/shards'), []);
  await run.put('extract/plan.json', JSON.stringify(plan));

  ok(t, await runCli('extract/cli.ts', ['--shard', '1/1', '--quiet'], env), 'the shard, beside its coordinator');
  ok(t, await runCli('extract/cli.ts', ['finalize', '--quiet'], env), 'finalize, beside the coordinator');
  t.truthy(await run.getText('extract/manifest.json'));
  t.like((await status()).extracts_running?.[0], { coordinator: true, finalized: true });
  t.regex((await runCli('plan/run-status-cli.ts', [], env)).stdout, /\nextract under way: the coordinator of a sharded extract \(host \S+, pid \d+, since \S+\); finalized: stop it \(Ctrl-C or SIGTERM\) to release its snapshot\n/);
  coordinator.child.kill('SIGTERM');
  await once(coordinator.child, 'exit');
  t.deepEqual(await run.list('.locks/extract'), [], 'the stopped coordinator leaves no lock');
  t.is((await status()).extracts_running, undefined);

  // Another extract's live lock (one started after the coordinator stopped; while it holds, the coordinator would exit):
  // a shard refuses before it joins a snapshot or writes anything.
  const now = new Date().toISOString();
  await run.put('.locks/extract/elsewhere.1.00000000000000aa.json', JSON.stringify({ host: 'elsewhere', pid: 1, started: now, renewed: now, what: 'TABLE=users' }));
  t.regex((await status()).next, /^wait for the extract under way \(TABLE=users; host elsewhere, pid 1\) to end, then make status RUN=held again$/);
  const fragments = async () => Promise.all((await run.list('extract/shards')).map(async (o) => [o.key, await run.getText(o.key)]));
  const fragment = await fragments();
  t.is(fragment.length, 1);
  const refused = await runCli('extract/cli.ts', ['--shard', '1/1', '--quiet'], env);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /^extract: error: another extract is writing run .*\/held \(TABLE=users; host elsewhere, pid 1, .*\), not this shard's coordinator: /);
  t.deepEqual(await fragments(), fragment, 'no fragment written');
  await run.delete('.locks/extract/elsewhere.1.00000000000000aa.json');

  // An extract of its own replaces parts of the plan: it retires the plan and fragments, so no finalize (make finalize
  // finalizes every stage with fragments) publishes them again over its manifest entry.
  const users = await runCli('extract/cli.ts', [], { ...env, TABLE: 'users' });
  ok(t, users, 'a TABLE= extract once the coordinator is gone');
  t.regex(users.stderr, /removed the plan and 1 shard fragment\(s\) of a sharded extract from .*\/held\/extract: this extract replaces the parts they describe/);
  t.deepEqual((await run.list('extract')).filter((o) => o.key === 'extract/plan.json' || o.key.startsWith('extract/shards/')), []);
  const manifest = await run.getText('extract/manifest.json');
  const refinalize = await runCli('extract/cli.ts', ['finalize', '--quiet'], env);
  t.is(refinalize.code, 1);
  t.regex(refinalize.stderr, /no extract plan at /);
  t.is(await run.getText('extract/manifest.json'), manifest, 'the TABLE= extract\'s manifest stands');

  // A new coordinator re-extracting the run: status sends the user to its shards, not to the stages it will replace.
  const again = await startCoordinator(t, env);
  const reextract = await status();
  t.like(reextract.extracts_running?.[0], { coordinator: true, finalized: false });
  t.regex(reextract.next, /^make extract RUN=held SHARD=i\/n on each of n machines/);
  again.child.kill('SIGTERM');
  await once(again.child, 'exit');
});

test('a TABLE= extract over a sharded extract not yet finalized is refused and leaves it finalizable: it would drop the other tables', async (t) => {
  t.timeout(300_000);
  const url = await freshDatabase(t, { scale: 0.001 });
  const store = freshBucketPrefix();
  const env = { DATABASE_URL: url, STORE: store, RUN: 'unfinal' };
  const run = openStorage(store).sub('unfinal');
  const coordinator = await startCoordinator(t, env);
  ok(t, await runCli('extract/cli.ts', ['--shard', '1/1', '--quiet'], env), 'the shard');
  // Stopped (or dead) before make finalize: the plan and fragment are the tables' only record.
  coordinator.child.kill('SIGTERM');
  await once(coordinator.child, 'exit');
  const users = await runCli('extract/cli.ts', ['--quiet'], { ...env, TABLE: 'users' });
  t.is(users.code, 1);
  t.regex(users.stderr, /^extract: error: run unfinal has a sharded extract not finalized \(.*\/extract\/plan\.json, snapshot \S+\): a TABLE= extract would drop its other tables; finalize it first \(make finalize RUN=unfinal STAGE=extract\), or extract every table \(no TABLE=\) to replace it\n$/);
  t.truthy(await run.getText('extract/plan.json'));
  ok(t, await runCli('extract/cli.ts', ['finalize', '--quiet'], env), 'finalize after the refusal');
  const tables = JSON.parse((await run.getText('extract/manifest.json'))!).tables.length;
  t.true(tables > 1);
  ok(t, await runCli('extract/cli.ts', ['--quiet'], { ...env, TABLE: 'users' }), 'TABLE=users once finalized');
  t.is(JSON.parse((await run.getText('extract/manifest.json'))!).tables.length, tables, 'every table kept');
  t.is(await run.getText('extract/plan.json'), undefined, 'the finalized plan retired');
});
