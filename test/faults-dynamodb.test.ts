// Issue 5, faults 4: DynamoDB throttling (ProvisionedThroughputExceededException),
// 500s and connection resets on a share of requests, injected by
// scripts/fault-proxy.ts in front of the stack's DynamoDB: batch load and
// verify run as CLIs through it, complete, and their counts reconcile.
import test from 'ava';
import { mkdtemp, readFile } from 'node:fs/promises';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import os from 'node:os';
import path from 'node:path';
import { runExtract } from '../extract/extract.ts';
import { writeDumpRun } from '../scripts/golden.ts';
import { startFaultProxy } from '../scripts/fault-proxy.ts';
import { runTransform } from '../transform/runner.ts';
import { runCli } from './cli.ts';
import { exitOutcome, recordFault } from './fault-table.ts';
import { freshDatabase, randomName, scanCount, stackEnv } from './stack.ts';

test('batch load and verify through DynamoDB that throttles, fails or resets one request in five complete, and the counts reconcile', async (t) => {
  t.timeout(90_000);
  const env = stackEnv();
  const databaseUrl = await freshDatabase(t);
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-faults-ddb-'));
  await writeDumpRun(store, 'r');
  const manifest = await runTransform({ store, run: 'r', concurrency: 2, gzipLevel: 1, unmapped: 'fail', dropExpired: false, log: () => {} });
  const faults = await startFaultProxy({ target: env.AWS_ENDPOINT_URL_DYNAMODB!, share: 0.2, faults: ['ddb-throttle', 'ddb-500', 'reset'], seed: 3 });
  t.teardown(() => faults.close());
  const tableName = randomName('faults_');
  const cliEnv = { ...env, AWS_ENDPOINT_URL_DYNAMODB: faults.url, DATABASE_URL: databaseUrl, STORE: store, RUN: 'r', DDB_TABLE: tableName, MODE: 'batch' };

  // TTL off: DynamoDB Local would expire fixture items while verify compares them.
  const load = await runCli('load/cli.ts', ['--quiet', '--no-ttl', '--no-deletion-protection', '--concurrency', '4'], cliEnv);
  t.is(load.code, 0, load.stderr);
  const loaded = JSON.parse(load.stdout) as { ok: boolean; totals: { items: number; written: number }; tables: { name: string; items: number; written: number }[] };
  t.true(loaded.ok);
  t.is(loaded.totals.written, manifest.totals.items_out);
  for (const table of loaded.tables) t.is(table.written, table.items, table.name);
  const duringLoad = { ...faults.stats.faulted };
  t.true(duringLoad['ddb-throttle'] > 0 && duringLoad['ddb-500'] > 0 && duringLoad.reset > 0, JSON.stringify(duringLoad));

  const verify = await runCli('verify/cli.ts', ['--quiet', '--concurrency', '4', '--sample', '20'], cliEnv);
  t.is(verify.code, 0, verify.stdout + verify.stderr);
  const report = JSON.parse(verify.stdout) as { ok: boolean; checks: { name: string; ok: boolean }[] };
  t.true(report.ok);
  t.deepEqual(report.checks.filter((c) => !c.ok), []);
  const faultsInVerify = Object.values(faults.stats.faulted).reduce((a, b) => a + b, 0) - Object.values(duringLoad).reduce((a, b) => a + b, 0);
  t.true(faultsInVerify > 0, 'verify met faults too');
  const { rows_in, items_out, rejected } = manifest.totals;
  recordFault(t, {
    fault: 'DynamoDB throttling/500/reset on 1 request in 5', stage: 'load (batch), verify', outcome: `${exitOutcome(load)}, verify ${exitOutcome(verify)}`,
    rows_in, items_out: loaded.totals.written, rejected,
    // Verify compared every item of the run with the table's and found no stray: the table is what a clean load gives.
    identical: loaded.totals.written === items_out && report.ok,
  });
});

test('batch load\'s counts are the proxy\'s: every BatchWriteItem request sent is a call, every one faulted a retry', async (t) => {
  t.timeout(120_000);
  const env = stackEnv();
  const databaseUrl = await freshDatabase(t);
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-faults-ddb-counts-'));
  await writeDumpRun(store, 'r');
  await runTransform({ store, run: 'r', concurrency: 2, gzipLevel: 1, unmapped: 'fail', dropExpired: false, log: () => {} });
  const isBatchWrite = (headers: Record<string, unknown>) => String(headers['x-amz-target'] ?? '').endsWith('.BatchWriteItem');
  let sent = 0;
  const faults = await startFaultProxy({
    target: env.AWS_ENDPOINT_URL_DYNAMODB!, share: 0.3, faults: ['ddb-throttle', 'ddb-500', 'reset'], seed: 5,
    eligible: (_method, _path, headers) => isBatchWrite(headers),
    onRequest: ({ headers }) => { if (isBatchWrite(headers)) sent++; },
  });
  t.teardown(() => faults.close());
  const cliEnv = { ...env, AWS_ENDPOINT_URL_DYNAMODB: faults.url, DATABASE_URL: databaseUrl, STORE: store, RUN: 'r', DDB_TABLE: randomName('counts_'), MODE: 'batch' };
  const load = await runCli('load/cli.ts', ['--no-ttl', '--no-deletion-protection', '--concurrency', '8'], cliEnv);
  t.is(load.code, 0, load.stderr);
  // Each table's line: "(N BatchWriteItem calls, N unprocessed resent, N retries after throttling, 5xx or resets)".
  const lines = [...load.stderr.matchAll(/\((\d+) BatchWriteItem calls, \d+ unprocessed resent, (\d+) retries after throttling, 5xx or resets\)/g)];
  t.true(lines.length > 1, load.stderr);
  const injected = Object.values(faults.stats.faulted).reduce((a, b) => a + b, 0);
  t.true(faults.stats.faulted['ddb-throttle'] > 0 && faults.stats.faulted['ddb-500'] > 0 && faults.stats.faulted.reset > 0, JSON.stringify(faults.stats.faulted));
  t.is(lines.reduce((n, m) => n + Number(m[1]), 0), sent);
  t.is(lines.reduce((n, m) => n + Number(m[2]), 0), injected);
});

test('batch load failing on a bad item mid-way: its siblings stop, the report counts every attempt sent and what was written, and the rerun completes', async (t) => {
  t.timeout(120_000);
  const env = stackEnv();
  // Tables of several batches each, so batches of one table are in flight together.
  const databaseUrl = await freshDatabase(t, { scale: 0.005 });
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-faults-ddb-fail-'));
  await runExtract({ databaseUrl, store, run: 'r', concurrency: 2, schemas: ['public'], gzipLevel: 1, log: () => {} });
  const manifest = await runTransform({ store, run: 'r', concurrency: 2, gzipLevel: 1, unmapped: 'fail', dropExpired: false, log: () => {} });
  const isBatchWrite = (headers: Record<string, unknown>) => String(headers['x-amz-target'] ?? '').endsWith('.BatchWriteItem');
  let sent = 0;
  // Four BatchWriteItem requests in five throttled (so the siblings are backing off, their earlier attempts made), the sixteenth such fault a ValidationException.
  const faults = await startFaultProxy({
    target: env.AWS_ENDPOINT_URL_DYNAMODB!, share: 0.8, faults: [...Array<'ddb-throttle'>(15).fill('ddb-throttle'), 'ddb-validation'], seed: 2,
    eligible: (_method, _path, headers) => isBatchWrite(headers),
    onRequest: ({ headers }) => { if (isBatchWrite(headers)) sent++; },
  });
  t.teardown(() => faults.close());
  const tableName = randomName('fail_');
  const cliEnv = { ...env, AWS_ENDPOINT_URL_DYNAMODB: faults.url, DATABASE_URL: databaseUrl, STORE: store, RUN: 'r', DDB_TABLE: tableName, MODE: 'batch' };
  const args = ['--quiet', '--no-ttl', '--no-deletion-protection', '--concurrency', '4'];
  const load = await runCli('load/cli.ts', args, cliEnv);
  t.is(load.code, 1, load.stderr);
  t.regex(load.stderr, /ValidationException/);
  t.is(faults.stats.faulted['ddb-validation'], 1);
  const report = JSON.parse((await readFile(path.join(store, 'r', 'load', 'report.json'), 'utf8'))) as {
    ok: boolean; totals: { written?: number }; tables: { name: string; written?: number; batch?: { calls: number; error_retries: number } }[];
  };
  t.false(report.ok);
  const started = report.tables.filter((r) => r.batch !== undefined);
  // The table that failed is in the report with its counts, like those before it.
  t.true(started.length > 0 && started.every((r) => r.written !== undefined), JSON.stringify(report.tables));
  t.is(started.reduce((n, r) => n + r.batch!.calls, 0), sent, 'every BatchWriteItem request sent is a call in the report, those of the stopped siblings too');
  t.true(started.reduce((n, r) => n + r.batch!.error_retries, 0) <= faults.stats.faulted['ddb-throttle']);
  t.is(report.totals.written, started.reduce((n, r) => n + r.written!, 0));
  const ddb = dynamoClient(env);
  t.teardown(() => ddb.destroy());
  const inTable = await scanCount(ddb, tableName);
  // Written counts what DynamoDB confirmed; a sibling stopped in flight may have been applied unconfirmed.
  t.true(report.totals.written! <= inTable && inTable < manifest.totals.items_out, `${report.totals.written} written, ${inTable} in the table`);

  await faults.close();
  const rerun = await runCli('load/cli.ts', args, { ...cliEnv, AWS_ENDPOINT_URL_DYNAMODB: env.AWS_ENDPOINT_URL_DYNAMODB });
  t.is(rerun.code, 0, rerun.stderr);
  t.is(await scanCount(ddb, tableName), manifest.totals.items_out);
  await ddb.send(new DeleteTableCommand({ TableName: tableName })).catch(() => {});
});
