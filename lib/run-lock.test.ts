// The run's extract lock on a real file store: a second writer is refused in
// one line naming the first; a released lock, one of a process gone from this
// host, or one not renewed for LOCK_STALE_MS, is no obstacle.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UserError } from './errors.ts';
import { LOCKS_PREFIX, LOCK_STALE_MS, checkShardWrites, lockRun, runningExtracts } from './run-lock.ts';
import { openStorage, type Storage } from './storage.ts';
import { HOST_ID } from './temp-files.ts';

async function store(t: { teardown: (f: () => Promise<void>) => void }): Promise<Storage> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'run-lock-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return openStorage(dir).sub('r');
}

const lockText = (host: string, pid: number, renewed: number) =>
  JSON.stringify({ host, pid, started: new Date(renewed).toISOString(), renewed: new Date(renewed).toISOString(), what: 'TABLE=users' });

test('a second extract of the run is refused, naming the first; once released, the run is free', async (t) => {
  const run = await store(t);
  const first = await lockRun(run, 'TABLE=users', () => {});
  const refused = await t.throwsAsync(lockRun(run, 'TABLE=payments', () => {}), { instanceOf: UserError });
  t.regex(refused!.message, new RegExp(`^another extract is writing run .*/r \\(TABLE=users; host ${HOST_ID.replace(/[.+]/g, '\\$&')}, pid ${process.pid}, started `));
  t.is((await run.list(LOCKS_PREFIX)).length, 1, 'the refused writer leaves no lock');
  await first.release();
  t.deepEqual(await run.list(LOCKS_PREFIX), []);
  const second = await lockRun(run, 'TABLE=payments', () => {});
  await second.release();
});

test('the lock of a process gone from this host, or one not renewed for LOCK_STALE_MS, is removed; a live one on another host is not', async (t) => {
  const run = await store(t);
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
  await run.put(`${LOCKS_PREFIX}/dead.json`, lockText(HOST_ID, Number(gone), Date.now()));
  await run.put(`${LOCKS_PREFIX}/old.json`, lockText('elsewhere', 1, Date.now() - LOCK_STALE_MS - 1000));
  await run.put(`${LOCKS_PREFIX}/junk.json`, 'not json');
  const log: string[] = [];
  const lock = await lockRun(run, 'every table', (m) => log.push(m));
  t.is(log.length, 3, log.join('\n'));
  t.true(log.every((m) => /^removed .*\/\.locks\/extract\/(dead|old|junk)\.json, the lock of an extract that is gone$/.test(m)), log.join('\n'));
  await lock.release();

  await run.put(`${LOCKS_PREFIX}/live.json`, lockText('elsewhere', 1, Date.now() - LOCK_STALE_MS + 60_000));
  await t.throwsAsync(lockRun(run, 'every table', () => {}), { message: /host elsewhere, pid 1, .*counts as gone 5 minutes after its last renewal/ });
});

test('a renewal under way when the lock is released does not put it back', async (t) => {
  const real = await store(t);
  let slow = false;
  const run = Object.create(real) as Storage;
  run.put = async (key, body) => {
    if (slow) await new Promise((resolve) => setTimeout(resolve, 200));
    return real.put(key, body);
  };
  const lock = await lockRun(run, 'every table', () => {}, { renewMs: 20 });
  slow = true;
  await new Promise((resolve) => setTimeout(resolve, 50)); // a renewal is now under way
  await lock.release();
  await new Promise((resolve) => setTimeout(resolve, 400));
  t.deepEqual(await real.list(LOCKS_PREFIX), [], 'released means gone');
  slow = false;
  await (await lockRun(run, 'TABLE=users', () => {})).release();
});

test('a lock another extract removed as a leftover, or took over, fails check(), so the paused extract writes no manifest', async (t) => {
  const run = await store(t);
  const lock = await lockRun(run, 'TABLE=users', () => {});
  await lock.check();
  for (const { key } of await run.list(LOCKS_PREFIX)) await run.delete(key);
  await t.throwsAsync(lock.check(), { instanceOf: UserError, message: /^this extract's lock .* was taken by another extract, which took it for a leftover .*: the manifest is not written; / });
  await lock.release();
  // Put back by a late renewal while the other extract holds a lock of its own: still taken.
  const again = await lockRun(run, 'TABLE=users', () => {});
  await run.put(`${LOCKS_PREFIX}/other.json`, lockText('elsewhere', 1, Date.now()));
  await t.throwsAsync(again.check(), { message: /was taken by another extract/ });
  await again.release();
});

test('a sharded extract: finalize locks beside its coordinator, shards write beside it alone, and any other extract, a second finalize too, is refused', async (t) => {
  const run = await store(t);
  const coordinator = await lockRun(run, 'the coordinator of a sharded extract', () => {});
  await t.throwsAsync(lockRun(run, 'TABLE=users', () => {}), { message: /^another extract is writing run .*\/r \(the coordinator of a sharded extract; host / });
  await checkShardWrites(run, coordinator.key);
  await t.throwsAsync(checkShardWrites(run, undefined), { message: /\(the coordinator of a sharded extract; .*\), not this shard's coordinator/ }, 'a plan naming no lock is no leave to write beside one');
  const finalize = await lockRun(run, 'finalize', () => {}, { beside: coordinator.key });
  await finalize.check();
  await coordinator.check(); // a lock taken beside it is no rival
  await checkShardWrites(run, coordinator.key);
  // A second finalize of the plan is: both would write the manifest.
  await t.throwsAsync(lockRun(run, 'finalize', () => {}, { beside: coordinator.key }), { message: /^another extract is writing run .*\/r \(finalize; host / });
  await finalize.check();
  await finalize.release();
  // Another extract's live lock (the coordinator gone, or of an earlier plan) stops a shard before it writes.
  await coordinator.release();
  await checkShardWrites(run, coordinator.key);
  const other = await lockRun(run, 'TABLE=users', () => {});
  await t.throwsAsync(checkShardWrites(run, coordinator.key), {
    instanceOf: UserError, message: /^another extract is writing run .*\/r \(TABLE=users; host .*\), not this shard's coordinator: its parts and this shard's would overwrite one another; /,
  });
  await t.throwsAsync(lockRun(run, 'finalize', () => {}, { beside: coordinator.key }), { message: /\(TABLE=users; / });
  await other.release();
});

test('runningExtracts lists the live locks, for make status, and leaves leftovers where they are', async (t) => {
  const run = await store(t);
  await run.put(`${LOCKS_PREFIX}/old.json`, lockText('elsewhere', 1, Date.now() - LOCK_STALE_MS - 1000));
  await run.put(`${LOCKS_PREFIX}/junk.json`, 'not json');
  const lock = await lockRun(run, 'TABLE=users', () => {});
  // lockRun removed the two leftovers; put one back for runningExtracts to pass over.
  await run.put(`${LOCKS_PREFIX}/old.json`, lockText('elsewhere', 1, Date.now() - LOCK_STALE_MS - 1000));
  const running = await runningExtracts(run);
  t.deepEqual(running.map((r) => [r.key, r.lock.what, r.lock.pid]), [[lock.key, 'TABLE=users', process.pid]]);
  t.is((await run.list(LOCKS_PREFIX)).length, 2, 'status only reads');
  await lock.release();
  t.deepEqual(await runningExtracts(run), []);
});

test('Ctrl-C or SIGTERM of a process holding the lock releases it before the process exits', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'run-lock-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const script = `
    import { exitOnInterrupt } from './lib/log.ts';
    import { lockRun } from './lib/run-lock.ts';
    import { openStorage } from './lib/storage.ts';
    exitOnInterrupt('extract', () => 'nothing kept');
    await lockRun(openStorage(${JSON.stringify(dir)}).sub('r'), 'every table', () => {});
    process.stdout.write('locked\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx/esm', '--input-type=module', '-e', script], { cwd: path.resolve(import.meta.dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d) => { if (String(d).includes('locked')) resolve(); });
    child.on('exit', () => reject(new Error('exited before locking')));
  });
  const run = openStorage(dir).sub('r');
  t.is((await run.list(LOCKS_PREFIX)).length, 1);
  const code = await new Promise<number | null>((resolve) => { child.on('exit', (c) => resolve(c)); child.kill('SIGTERM'); });
  t.is(code, 143);
  t.deepEqual(await run.list(LOCKS_PREFIX), [], 'no lock left for a rerun on another host to wait 5 minutes for');
});

test('a TABLE= extract refused by a holding coordinator does not make the coordinator\'s own check fail', async (t) => {
  const run = await store(t);
  const coordinator = await lockRun(run, 'the coordinator of a sharded extract', () => {});
  // The refused writer puts its lock, lists the others, then deletes its own: a slow list (S3 across a region) widens the window.
  let listed!: () => void;
  const slow: Storage = Object.create(run, { list: { value: async (prefix: string) => { const r = await run.list(prefix); await new Promise<void>((resolve) => { listed = resolve; }); return r; } } });
  const refused = lockRun(slow, 'TABLE=users', () => {});
  refused.catch(() => {});
  while (!listed) await new Promise((r) => setTimeout(r, 5));
  // The coordinator's heartbeat check (extract.ts lockTaken) falls in that window, which closes within the check's retries
  // (here a list answered after 300 ms): it must not exit saying its lock was taken.
  setTimeout(() => listed(), 300);
  await t.notThrowsAsync(coordinator.check(), 'the coordinator still holds the run: the other extract was refused');
  await t.throwsAsync(refused);
  await coordinator.release();
});

test('a finalize killed on another host blocks a rerun beside the same coordinator until its lock is stale, then is removed', async (t) => {
  const run = await store(t);
  const coordinator = await lockRun(run, 'the coordinator of a sharded extract', () => {});
  const killed = (renewed: number) => JSON.stringify({ host: 'elsewhere', pid: 1, started: new Date(renewed).toISOString(), renewed: new Date(renewed).toISOString(), what: 'finalize', beside: coordinator.key });
  await run.put(`${LOCKS_PREFIX}/elsewhere.json`, killed(Date.now()));
  await t.throwsAsync(lockRun(run, 'finalize', () => {}, { beside: coordinator.key }), { message: /\(finalize; host elsewhere, pid 1, .*counts as gone 5 minutes after its last renewal/ });
  await checkShardWrites(run, coordinator.key); // shards still write beside their coordinator
  await coordinator.check();
  await run.put(`${LOCKS_PREFIX}/elsewhere.json`, killed(Date.now() - LOCK_STALE_MS - 1000));
  const removed: string[] = [];
  const finalize = await lockRun(run, 'finalize', (m) => removed.push(m), { beside: coordinator.key });
  t.is(removed.length, 1);
  await finalize.release();
  await coordinator.release();
});
