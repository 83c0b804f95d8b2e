// Issue 21: the snapshot coordinator notices when its connection dies, even
// silently (a failover, an RDS Proxy idle timeout, a NAT dropping the flow),
// and exits non-zero naming the connection, instead of holding nothing.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import test, { type ExecutionContext } from 'ava';
import pg from 'pg';
import { holdSnapshot } from '../extract/extract.ts';
import { openStorage } from '../lib/storage.ts';
import { REPO, cliArgv } from './cli.ts';
import { freshBucketPrefix, freshDatabase } from './stack.ts';

/** A TCP relay to PostgreSQL that can go silent: it stops relaying bytes but keeps every socket open. `url` reaches the target through it. */
async function freezableRelay(t: ExecutionContext, target: URL): Promise<{ port: number; url: string; freeze(): void }> {
  let frozen = false;
  const sockets = new Set<net.Socket>();
  // allowHalfOpen: a FIN is relayed like data, so a frozen relay answers none (a dead network acknowledges nothing).
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ port: Number(target.port || 5432), host: target.hostname, allowHalfOpen: true });
    for (const s of [client, upstream]) { sockets.add(s); s.on('error', () => {}); }
    client.on('data', (d) => { if (!frozen) upstream.write(d); });
    upstream.on('data', (d) => { if (!frozen) client.write(d); });
    client.on('end', () => { if (!frozen) upstream.end(); });
    upstream.on('end', () => { if (!frozen) client.end(); });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => { for (const s of sockets) s.destroy(); server.close(); });
  const port = (server.address() as net.AddressInfo).port;
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return { port, url: url.href, freeze: () => { frozen = true; } };
}

async function startCoordinator(t: ExecutionContext, url: string, heartbeat = '1', store = freshBucketPrefix()): Promise<{ exit: Promise<[number | null, NodeJS.Signals | null]>; stderr: () => string; kill: (signal: NodeJS.Signals) => void }> {
  const child = spawn(process.execPath, cliArgv('extract/cli.ts', ['snapshot', '--hold', '--heartbeat', heartbeat, '--quiet']), {
    cwd: REPO, env: { ...process.env, TABLE: '', DATABASE_URL: url, STORE: store, RUN: 'coord' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => { child.kill('SIGKILL'); });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  await Promise.race([once(child.stdout, 'data'), exit]);
  t.regex(stderr, /^$/, 'the coordinator holds its snapshot');
  return { exit, stderr: () => stderr, kill: (signal) => child.kill(signal) };
}

test('a coordinator whose connection goes silent exits non-zero, naming the connection, once a heartbeat goes unanswered', async (t) => {
  t.timeout(120_000);
  const url = new URL(await freshDatabase(t, { scale: 0.001 }));
  const relay = await freezableRelay(t, url);
  const coordinator = await startCoordinator(t, relay.url);
  relay.freeze();
  const timer = setTimeout(() => t.fail('still running 60 s after its connection went silent'), 60_000);
  const [code] = await coordinator.exit;
  clearTimeout(timer);
  t.not(code, 0);
  t.regex(coordinator.stderr(), new RegExp(`extract: error: the snapshot's connection to \\S+@127\\.0\\.0\\.1:${relay.port}/\\S+ stopped answering \\(no reply within 1 s\\); shards can no longer join it: start a new coordinator and rerun every shard`));
});

test('a coordinator whose session is ended on the server exits non-zero, naming the connection', async (t) => {
  t.timeout(120_000);
  const url = await freshDatabase(t, { scale: 0.001 });
  const coordinator = await startCoordinator(t, url);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  t.teardown(() => admin.end());
  const { rowCount } = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pg2ddb-extract' AND datname = current_database()");
  t.is(rowCount, 1);
  const [code] = await coordinator.exit;
  t.not(code, 0);
  t.regex(coordinator.stderr(), /extract: error: the snapshot's connection to \S+@\S+:\d+\/\S+ (failed|stopped answering)/);
});

test('a coordinator stopped before it holds the snapshot writes no plan, so no shard starts on a released snapshot', async (t) => {
  t.timeout(120_000);
  const url = await freshDatabase(t, { scale: 0.001 });
  const store = freshBucketPrefix();
  let ready = false;
  // SIGTERM while the coordinator is still planning: `stop` has already resolved.
  await holdSnapshot({ databaseUrl: url, store, run: 'early', concurrency: 1, schemas: ['public'], gzipLevel: 1, log: () => {} }, () => { ready = true; }, Promise.resolve());
  t.false(ready, 'not reported as holding');
  t.is(await openStorage(store).sub('early').getText('extract/plan.json'), undefined, 'no plan.json for a released snapshot');
});

test('a coordinator stopped by SIGTERM after its connection went silent still ends within seconds', async (t) => {
  t.timeout(120_000);
  const url = new URL(await freshDatabase(t, { scale: 0.001 }));
  const relay = await freezableRelay(t, url);
  const coordinator = await startCoordinator(t, relay.url, '60');
  relay.freeze();
  coordinator.kill('SIGTERM');
  const timer = setTimeout(() => coordinator.kill('SIGKILL'), 15_000);
  const [code, signal] = await coordinator.exit;
  clearTimeout(timer);
  t.is(signal, null, `not killed: ${coordinator.stderr()}`);
  t.is(code, 0, coordinator.stderr());
  t.regex(coordinator.stderr(), /extract: stopped; snapshot \S+ released/);
});

test('a coordinator whose run lock another extract took (it was paused, or its clock is behind) exits non-zero instead of holding shards under that extract', async (t) => {
  t.timeout(120_000);
  const url = await freshDatabase(t, { scale: 0.001 });
  const store = freshBucketPrefix();
  const coordinator = await startCoordinator(t, url, '1', store);
  const run = openStorage(store).sub('coord');
  // What an extract that took this lock for a leftover leaves: its own live lock (the renewal puts the coordinator's back).
  const now = new Date().toISOString();
  await run.put('.locks/extract/elsewhere.1.00000000000000aa.json', JSON.stringify({ host: 'elsewhere', pid: 1, started: now, renewed: now, what: 'TABLE=users' }));
  const timer = setTimeout(() => t.fail('still running 60 s after its lock was taken'), 60_000);
  const [code] = await coordinator.exit;
  clearTimeout(timer);
  t.is(code, 1);
  t.regex(coordinator.stderr(), /extract: error: another extract took run .*\/coord's lock from this coordinator \(it was paused over 5 minutes, or its host's clock is behind\) and may be writing parts under its shards: when that extract has ended, start a new coordinator and rerun every shard/);
  t.deepEqual((await run.list('.locks/extract')).map((o) => o.key), ['.locks/extract/elsewhere.1.00000000000000aa.json'], 'it leaves the other\'s lock and takes its own away');
});
