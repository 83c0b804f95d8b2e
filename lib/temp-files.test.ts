import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { openStorage } from './storage.ts';
import { HOST_ID, TEMP_LEASE_MS, isStaleTemp, tempName } from './temp-files.ts';

const HOUR = 60 * 60 * 1000;

test('a temp file is stale only when its writer is provably gone: a dead pid of this host, or untouched for the lease', (t) => {
  const now = Date.now();
  const dead = () => false;
  const alive = () => true;
  t.true(isStaleTemp(`${HOST_ID}.4242.0123456789abcdef.tmp`, now, now, dead), 'this host, dead pid');
  t.false(isStaleTemp(`${HOST_ID}.4242.0123456789abcdef.tmp`, now, now, alive), 'this host, live pid');
  t.false(isStaleTemp(`${HOST_ID}.${process.pid}.0123456789abcdef.tmp`, now, now, dead), 'this very process');
  t.false(isStaleTemp('other-host+4026531836.4242.0123456789abcdef.tmp', now - HOUR, now, dead), "another host's pid says nothing here");
  t.true(isStaleTemp('other-host+4026531836.4242.0123456789abcdef.tmp', now - TEMP_LEASE_MS - 1, now, dead), 'another host, past the lease');
  t.false(isStaleTemp(`${HOST_ID.split('+')[0]}+1.4242.0123456789abcdef.tmp`, now, now, dead), 'same host name, another pid namespace (a container)');
  const [name, ns, boot] = HOST_ID.split('+');
  t.regex(boot ?? '', /^[0-9a-f]{12}$/, 'Linux: the kernel boot id is part of the host id');
  t.false(isStaleTemp(`${name}+${ns}+000000000000.4242.0123456789abcdef.tmp`, now, now, dead), 'same host name and pid namespace number, another kernel (another machine)');
  t.not(tempName(), tempName(), 'unique per call');
  t.regex(tempName(), new RegExp(`^${HOST_ID.replace(/[.+]/g, '\\$&')}\\.${process.pid}\\.[0-9a-f]{16}\\.tmp$`));
});

test("a put writes its temp file in <run>/.tmp/, never beside the object (ImportTable would take it from items/); list never shows it", async (t) => {
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-temp-'));
  t.teardown(() => rm(store, { recursive: true, force: true }));
  const run = openStorage(store).sub('r');
  const body = new PassThrough();
  const putting = run.sub('items').put('users/part-00000.json.gz', body);
  body.write('half of it');
  const temps = async () => readdir(path.join(store, 'r', '.tmp')).catch(() => [] as string[]);
  for (let waited = 0; (await temps()).length === 0 && waited < 10_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
  t.deepEqual(await readdir(path.join(store, 'r', 'items', 'users')), [], 'nothing under items/ until complete');
  t.is((await temps()).length, 1);
  t.regex((await temps())[0]!, /\.tmp$/);
  t.deepEqual(await run.list(''), []);
  body.end();
  await putting;
  t.deepEqual((await run.list('')).map((o) => o.key), ['items/users/part-00000.json.gz']);
  t.deepEqual(await readdir(path.join(store, 'r', '.tmp')), []);
  t.throws(() => run.sub('.tmp'), { message: /invalid storage key "\.tmp"/ });
});

test("removeLeftovers removes this host's temp files of dead processes and any host's past the lease, and keeps live writers' (shards on a shared store)", async (t) => {
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-temp-'));
  t.teardown(() => rm(store, { recursive: true, force: true }));
  const tempDir = path.join(store, 'r', '.tmp');
  await mkdir(tempDir, { recursive: true });
  // A process that has exited (its pid is free) and one that is alive.
  const gone = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => gone.on('exit', r));
  const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  t.teardown(() => { live.kill(); });
  const files = {
    deadHere: `${HOST_ID}.${gone.pid}.00000000000000aa.tmp`,
    liveHere: `${HOST_ID}.${live.pid}.00000000000000bb.tmp`,
    otherHostFresh: `shard-7.example+4026531836.${gone.pid}.00000000000000cc.tmp`,
    otherHostOld: `shard-8.example+4026531836.${gone.pid}.00000000000000dd.tmp`,
  };
  for (const name of Object.values(files)) await writeFile(path.join(tempDir, name), 'x');
  const old = new Date(Date.now() - TEMP_LEASE_MS - HOUR);
  await utimes(path.join(tempDir, files.otherHostOld), old, old);

  t.is(await openStorage(store).sub('r').removeLeftovers(), 2);
  t.deepEqual((await readdir(tempDir)).sort(), [files.liveHere, files.otherHostFresh].sort());
});
