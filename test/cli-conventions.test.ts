// What every CLI does for a person and for a script: --version, exit 2 for a
// usage error (quoting what was typed), 1 for a failure, and make recipes that
// print nothing of their own, so `make status ARGS=--json | jq` reads JSON alone.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { writeDumpRun } from '../scripts/golden.ts';
import { REPO, runCli, cliArgv } from './cli.ts';

const CLIS = ['extract/cli.ts', 'transform/cli.ts', 'load/cli.ts', 'verify/cli.ts', 'plan/cli.ts', 'plan/run-report-cli.ts', 'plan/run-status-cli.ts', 'catchup/cli.ts', 'catchup/cutover-cli.ts'];

test('every CLI prints the package version with --version', async (t) => {
  const { version } = JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
  for (const cli of CLIS) {
    const result = await runCli(cli, ['--version'], {});
    t.is(result.code, 0, `${cli}: ${result.stderr}`);
    t.is(result.stdout, `${version}\n`, cli);
  }
  // The front door too; no command or an unknown one is a usage error, its usage on stderr.
  // From another directory, as `npm install -g .` runs it: nothing may resolve from the caller's.
  const front = (args: string[]) => new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(path.join(REPO, 'bin/pg2ddb'), args, { cwd: os.tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  t.like(await front(['--version']), { code: 0, stdout: `${version}\n` });
  t.like(await front(['status', '--version']), { code: 0, stdout: `${version}\n` });
  for (const args of [[], ['bogus']]) {
    const result = await front(args);
    t.is(result.code, 2, `pg2ddb ${args.join(' ')}`);
    t.is(result.stdout, '');
    t.regex(result.stderr, /^usage: pg2ddb extract\|/);
  }
});

test('a malformed value or an unknown flag is a usage error: exit 2, the value quoted as typed', async (t) => {
  const bad = await runCli('transform/cli.ts', [], { CONCURRENCY: 'abc' });
  t.is(bad.code, 2, bad.stderr);
  t.regex(bad.stderr, /invalid concurrency "abc": use a whole number/);
  t.false(bad.stderr.includes('NaN'));
  const zero = await runCli('plan/run-status-cli.ts', ['--concurrency', '0'], {});
  t.is(zero.code, 2, zero.stderr);
  t.regex(zero.stderr, /invalid concurrency 0: use a whole number from 1 to 64/);
  const unknown = await runCli('verify/cli.ts', ['--frobnicate'], {});
  t.is(unknown.code, 2, unknown.stderr);
  t.regex(unknown.stderr, /Unknown argument: frobnicate \(see verify --help\)/);
  // Every number option, as a flag or from the environment: quoted as typed, never NaN nor a silent default.
  for (const [cli, args, env, typed] of [
    ['transform/cli.ts', [], { STORE_TIMEOUT: 'abc' }, '--store-timeout "abc"'],
    ['verify/cli.ts', ['--sample', 'ten'], {}, '--sample "ten"'],
    ['load/cli.ts', ['--poll-seconds', '5s'], {}, '--poll-seconds "5s"'],
    ['extract/cli.ts', [], { SPLIT_ROWS: '10k' }, '--split-rows "10k"'],
    ['plan/cli.ts', [], { SAMPLE: 'half' }, '--sample "half"'],
  ] as const) {
    const result = await runCli(cli, [...args], env);
    t.is(result.code, 2, `${cli}: ${result.stderr}`);
    t.true(result.stderr.includes(`: error: invalid ${typed}: not a number`), result.stderr);
  }
  const size = await runCli('extract/cli.ts', [], { SPLIT_BYTES: '1.5G' });
  t.is(size.code, 2, size.stderr);
  t.true(size.stderr.includes('extract: error: invalid --split-bytes "1.5G": use bytes, as 33554432 or 32MiB'), size.stderr);
  const outOfRange = await runCli('verify/cli.ts', ['--sample', '0'], {});
  t.is(outOfRange.code, 2, outOfRange.stderr);
});

test('--table a,b selects what TABLE=a,b selects', async (t) => {
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-table-'));
  t.teardown(() => rm(store, { recursive: true, force: true }));
  // No extract yet: the refusal names the tables it was asked for, split the same both ways.
  const flag = await runCli('transform/cli.ts', ['--table', 'users,user_devices'], { STORE: store, RUN: 'r' });
  const env = await runCli('transform/cli.ts', [], { STORE: store, RUN: 'r', TABLE: 'users,user_devices' });
  t.is(flag.code, 1, flag.stderr);
  t.is(flag.stderr, env.stderr);
});

test('a DATABASE_URL that is not a URL is named as such, never read as a made-up host', async (t) => {
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-url-'));
  t.teardown(() => rm(store, { recursive: true, force: true }));
  const result = await runCli('extract/cli.ts', [], { STORE: store, RUN: 'r', DATABASE_URL: 'notaurl' });
  t.is(result.code, 1, result.stderr);
  t.regex(result.stderr, /^extract: error: DATABASE_URL is not a postgres:\/\/ or postgresql:\/\/ URL/m);
  t.notRegex(result.stderr, /\bbase\b/);
  t.false(result.stderr.includes('notaurl'));
});

test('make status prints only what the CLI prints, so its JSON pipes', async (t) => {
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-status-'));
  t.teardown(() => rm(store, { recursive: true, force: true }));
  const stdout = await new Promise<string>((resolve, reject) => {
    // -o: never reinstall node_modules under the other tests' feet.
    const child = spawn('make', ['--no-print-directory', '-o', 'node_modules/.installed', 'status', 'ARGS=--json'], {
      cwd: REPO, env: { ...process.env, STORE: store, RUN: 'nothing-yet', TABLE: '' }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`make status exited ${code}`))));
  });
  const status = JSON.parse(stdout) as { run_id: string; tables: unknown[]; next: string };
  t.is(status.run_id, 'nothing-yet');
  t.deepEqual(status.tables, []);
  t.is(status.next, 'make extract RUN=nothing-yet');
});

test('--verbose (or VERBOSE=1) adds detail lines naming each object written; without it there are none', async (t) => {
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-verbose-'));
  t.teardown(() => rm(store, { recursive: true, force: true }));
  await writeDumpRun(store, 'r');
  const env = { STORE: store, RUN: 'r', VERBOSE: '' };
  const quiet = await runCli('transform/cli.ts', ['--quiet'], env);
  t.is(quiet.code, 0, quiet.stderr);
  t.false(quiet.stderr.includes('debug:'), quiet.stderr);
  const verbose = await runCli('transform/cli.ts', ['--quiet', '--force', '--verbose', '--concurrency', '3'], env);
  t.is(verbose.code, 0, verbose.stderr);
  const debug = verbose.stderr.split('\n').filter((l) => l.startsWith('transform: debug: '));
  t.true(debug.some((l) => /^transform: debug: wrote file:\/\/.+\/r\/items\/users\/.+ \(\d+ bytes\)$/.test(l)), verbose.stderr);
  t.true(debug.some((l) => /^transform: debug: wrote file:\/\/.+\/r\/transform\/manifest\.json \(\d+ bytes\)$/.test(l)), verbose.stderr);
  // Detail names objects and counts only: no row value of the fixture (its users' emails) appears.
  t.false(/@/.test(debug.join('\n')), 'no email in debug lines');
  const byEnv = await runCli('transform/cli.ts', ['--quiet', '--force'], { ...env, VERBOSE: '1' });
  t.true(byEnv.stderr.includes('transform: debug: wrote '), byEnv.stderr);
  // plan and report print one JSON document with --json, as the stages do.
  const plan = await runCli('plan/cli.ts', ['--json', '--quiet'], env);
  t.is(plan.code, 0, plan.stderr);
  t.is((JSON.parse(plan.stdout) as { format: string }).format, 'pg2ddb.plan/1');
  const report = await runCli('plan/run-report-cli.ts', ['--json'], env);
  t.is(report.code, 0, report.stderr);
  t.is(typeof JSON.parse(report.stdout), 'object');
});

test('a store whose endpoint never answers fails the write check at --store-timeout, naming the object, instead of hanging', async (t) => {
  // A real TCP listener that accepts and never replies: a blackholed S3 endpoint.
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => { sockets.add(socket); socket.on('error', () => {}); });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => { for (const s of sockets) s.destroy(); silent.close(); });
  const { port } = silent.address() as net.AddressInfo;
  const env = {
    STORE: 's3://quiet-bucket/runs', RUN: 'r', AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}`,
    AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1', AWS_PROFILE: '',
  };
  for (const cli of ['transform/cli.ts', 'load/cli.ts']) {
    const result = await runCli(cli, ['--store-timeout', '1', '--mode', 'batch'].slice(0, cli === 'load/cli.ts' ? 4 : 2), env, 60_000);
    t.is(result.signal, null, `${cli} hung: ${result.stderr}`);
    t.is(result.code, 1, result.stderr);
    const stage = cli.split('/')[0];
    t.regex(result.stderr, new RegExp(`^${stage}: error: cannot write s3://quiet-bucket/runs/r/${stage}/\\.write-check: no answer within 1 s`, 'm'));
  }
  const bad = await runCli('transform/cli.ts', ['--store-timeout', '0'], env, 60_000);
  t.is(bad.code, 2, bad.stderr);
});

test('a reader that closes stdout early ends nothing badly: no stack trace, the exit status of the work', async (t) => {
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-epipe-'));
  t.teardown(() => rm(store, { recursive: true, force: true }));
  const result = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, cliArgv('plan/run-status-cli.ts', ['--json']), {
      cwd: REPO, env: { ...process.env, STORE: store, RUN: 'r', TABLE: '' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    // `| true`: the pipe is closed before the CLI writes its document.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
  t.is(result.stderr, '');
  t.is(result.code, 3, 'status still says work remains');
});

test('status names a record of the run that is not JSON instead of showing its stage as missing', async (t) => {
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-status-bad-'));
  t.teardown(() => rm(store, { recursive: true, force: true }));
  await writeDumpRun(store, 'r');
  const manifest = path.join(store, 'r', 'extract', 'manifest.json');
  await writeFile(manifest, (await readFile(manifest, 'utf8')).slice(0, 100));
  const result = await runCli('plan/run-status-cli.ts', [], { STORE: store, RUN: 'r' });
  t.is(result.code, 1, result.stdout);
  t.is(result.stderr, `status: error: file://${store}/r/extract/manifest.json is not valid JSON: restore it, or rerun the stage that writes it\n`);
});
