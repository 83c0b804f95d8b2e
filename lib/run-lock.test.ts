// The run's extract lock on a real file store: a second writer is refused in
// one line naming the first; a released lock, one of a process gone from this
// host, or one not renewed for LOCK_STALE_MS, is no obstacle.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UserError } from './errors.ts';
import { LOCKS_PREFIX, LOCK_STALE_MS, lockRun } from './run-lock.ts';
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
