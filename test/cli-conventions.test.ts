// What every CLI does for a person and for a script: --version, exit 2 for a
// usage error (quoting what was typed), 1 for a failure, and make recipes that
// print nothing of their own, so `make status ARGS=--json | jq` reads JSON alone.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { REPO, runCli } from './cli.ts';

const CLIS = ['extract/cli.ts', 'transform/cli.ts', 'load/cli.ts', 'load/verify-cli.ts', 'load/plan/cli.ts', 'load/plan/run-report-cli.ts', 'load/plan/run-status-cli.ts', 'catchup/cli.ts', 'catchup/cutover-cli.ts'];

test('every CLI prints the package version with --version', async (t) => {
  const { version } = JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
  for (const cli of CLIS) {
    const result = await runCli(cli, ['--version'], {});
    t.is(result.code, 0, `${cli}: ${result.stderr}`);
    t.is(result.stdout, `${version}\n`, cli);
  }
});

test('a malformed value or an unknown flag is a usage error: exit 2, the value quoted as typed', async (t) => {
  const bad = await runCli('transform/cli.ts', [], { CONCURRENCY: 'abc' });
  t.is(bad.code, 2, bad.stderr);
  t.regex(bad.stderr, /invalid concurrency "abc": use a whole number/);
  t.false(bad.stderr.includes('NaN'));
  const zero = await runCli('load/plan/run-status-cli.ts', ['--concurrency', '0'], {});
  t.is(zero.code, 2, zero.stderr);
  t.regex(zero.stderr, /invalid concurrency 0: use a whole number from 1 to 64/);
  const unknown = await runCli('load/verify-cli.ts', ['--frobnicate'], {});
  t.is(unknown.code, 2, unknown.stderr);
  t.regex(unknown.stderr, /Unknown argument: frobnicate \(see verify --help\)/);
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
