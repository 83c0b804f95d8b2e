// What a stage prints for a person (a terminal) and for a script (a pipe or
// --json), and what it says when Ctrl-C or SIGTERM stops it. The terminal is a
// real pseudo-terminal: util-linux `script` runs the CLI inside one.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { readTransformManifest } from '../lib/transform-manifest.ts';
import { openStorage } from '../lib/storage.ts';
import { writeDumpRun } from '../scripts/golden.ts';
import { REPO, runCli, cliArgv } from './cli.ts';
import { randomName, stackEnv } from './stack.ts';

/** Runs a CLI inside a pseudo-terminal (stdout and stderr both are the terminal); its output with colour and line redraws removed. */
function underTerminal(script: string, args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; output: string; raw: string }> {
  const command = [process.execPath, ...cliArgv(script, args, env)].map((w) => `'${w}'`).join(' ');
  return new Promise((resolve, reject) => {
    // CI='': lib/log.ts draws no progress line when CI=true, and CI runs this suite with CI=true.
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: REPO, env: { ...process.env, TABLE: '', CONCURRENCY: '', CI: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, raw: output, output: output.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/[^\n]*\r(?!\n)/g, '').replace(/\r\n/g, '\n') }));
  });
}

async function fixtureStore(): Promise<string> {
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-output-test-'));
  await writeDumpRun(store, 'r');
  return store;
}

test('on a terminal a stage ends with a summary and the next step and prints no JSON; --json prints exactly one JSON document', async (t) => {
  const store = await fixtureStore();
  const env = { STORE: store, RUN: 'r' };
  const human = await underTerminal('transform/cli.ts', ['--quiet'], env);
  t.is(human.code, 0, human.output);
  const manifest = (await readTransformManifest(openStorage(store).sub('r')))!;
  t.regex(human.output, new RegExp(`^transform: ${manifest.tables.length} table\\(s\\), ${manifest.totals.items_out} items, ${manifest.totals.rejected} rejects in \\d+\\.\\d s → next: make load RUN=r$`, 'm'), 'STORE comes from the environment, so the next command needs only RUN');
  t.false(/^\{/m.test(human.output), 'no JSON for a person');
  const rows = manifest.tables.reduce((n, x) => n + (x.mapping === 'skip' ? 0 : x.rows_in), 0);
  t.regex(human.raw, new RegExp(`\\[\\d+/\\d+ units\\] \\d+/${rows} rows \\d+% \\d+ rows/s`), 'progress counts against the exact total from the extract manifest');

  const json = await underTerminal('transform/cli.ts', ['--quiet', '--json'], env);
  t.is(json.code, 0, json.output);
  const lines = json.output.split('\n').filter((l) => l.trim() !== '');
  t.is(lines.length, 1, json.output);
  t.like(JSON.parse(lines[0]!), { run: 'r', ready_for_load: true, totals: { items_out: manifest.totals.items_out } });

  // Piped (as scripts and these tests read it): the JSON document alone on stdout, no summary on stderr.
  const piped = await runCli('transform/cli.ts', ['--quiet'], env);
  t.is(piped.code, 0, piped.stderr);
  t.like(JSON.parse(piped.stdout), { run: 'r', ready_for_load: true });
  t.false(piped.stderr.includes('→ next'));
});

test('on a terminal extract shows parts done with an approximate % and ETA, weighted by each part\'s estimated size', async (t) => {
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-output-test-'));
  const env = { ...stackEnv(), STORE: store, RUN: 'x', TABLE: 'processing_jobs,audit_events,users' };
  const extract = await underTerminal('extract/cli.ts', ['--split-rows', '100', '--concurrency', '1'], env);
  t.is(extract.code, 0, extract.output);
  t.regex(extract.raw, /\[\d+\/\d+ parts\] ~\d+% ETA ~\d+/, 'a % and an ETA once a part is done');
  t.regex(extract.output, /^extract: 3 table\(s\), \d+ rows/m);
});

test('report --out DIR writes a local report.html and prints its file:// address; without it, where the store has it', async (t) => {
  const store = await fixtureStore();
  const env = { STORE: store, RUN: 'r' };
  t.is((await runCli('transform/cli.ts', ['--quiet'], env)).code, 0);
  const out = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-output-out-'));
  const copied = await runCli('plan/run-report-cli.ts', ['--out', out], env);
  t.is(copied.code, 0, copied.stderr);
  t.regex(copied.stderr, new RegExp(`; open file://${out}/report\\.html\n$`));
  const html = await readFile(path.join(out, 'report.html'), 'utf8');
  t.is(html, (await openStorage(store).sub('r').getText('report.html'))!, 'the same page as the store\'s');
  const stored = await runCli('plan/run-report-cli.ts', [], env);
  t.is(stored.code, 0, stored.stderr);
  t.regex(stored.stderr, new RegExp(`; open file://${store}/r/report\\.html \\(or --out DIR for a local copy\\)\n$`));
  // A directory that cannot be made fails naming it, not spinning (Node's recursive mkdir does under /proc).
  for (const cli of ['plan/run-report-cli.ts', 'plan/cli.ts']) {
    const refused = await runCli(cli, cli.includes('run-report') ? ['--out', '/proc/pg2ddb-out/x'] : ['--out', '/proc/pg2ddb-out/x', '--quiet'], env, 60_000);
    t.is(refused.signal, null, `${cli} hung`);
    t.is(refused.code, 1, refused.stderr);
    t.regex(refused.stderr, /: error: cannot create --out directory \/proc\/pg2ddb-out\/x: /, cli);
  }
});

test('Ctrl-C stops transform with exit 130 and one line saying what was kept and how to finish; the rerun finishes', async (t) => {
  const store = await fixtureStore();
  const child = spawn(process.execPath, cliArgv('transform/cli.ts', ['--concurrency', '1']), {
    cwd: REPO, env: { ...process.env, STORE: store, RUN: 'r', TABLE: '' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let sent = false;
  child.stderr.on('data', (d) => {
    stderr += d;
    // After the first unit is done, while others remain.
    if (!sent && /rows → \d+ items/.test(stderr)) { sent = true; child.kill('SIGINT'); }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.true(sent, stderr);
  t.is(code, 130, stderr);
  const last = stderr.trimEnd().split('\n').at(-1)!;
  t.regex(last, new RegExp(`^transform: interrupted; (\\d+) of (\\d+) unit\\(s\\) done and kept; rerun make transform RUN=r to finish$`));
  const [, done, total] = /(\d+) of (\d+) unit/.exec(last)!;
  t.true(Number(done) >= 1 && Number(done) < Number(total), last);

  const rerun = await runCli('transform/cli.ts', [], { STORE: store, RUN: 'r' });
  t.is(rerun.code, 0, rerun.stderr);
  const [, kept, all] = /transform: (\d+) of (\d+) unit\(s\) already done/.exec(rerun.stderr)!;
  t.is(all, total);
  t.true(Number(kept) >= Number(done), 'the units done before the interrupt were kept');
});

test('on a terminal load shows items against the manifest total with %, items/s, and ends naming the next step', async (t) => {
  const store = await fixtureStore();
  const env = { ...stackEnv(), STORE: store, RUN: 'r', DDB_TABLE: randomName('out_') };
  t.teardown(async () => { await dynamoClient().send(new DeleteTableCommand({ TableName: env.DDB_TABLE })).catch(() => {}); });
  t.is((await runCli('transform/cli.ts', ['--quiet'], env)).code, 0);
  const items = (await readTransformManifest(openStorage(store).sub('r')))!.totals.items_out;
  const load = await underTerminal('load/cli.ts', ['--quiet', '--mode', 'batch', '--no-deletion-protection'], env);
  t.is(load.code, 0, load.output);
  t.regex(load.raw, new RegExp(`\\[\\d+/\\d+ tables\\] \\d+/${items} items \\d+% \\d+ items/s`));
  t.regex(load.output, new RegExp(`^load: ${items} items of \\d+ table\\(s\\) into ${env.DDB_TABLE} \\(created\\) by batch in \\d+\\.\\d s → next: make verify RUN=r$`, 'm'));
});

test('SIGTERM stops a batch load with exit 143, saying how many items were written and how to finish; Ctrl-C stops verify with exit 130 saying nothing was recorded', async (t) => {
  const store = await fixtureStore();
  const env = { ...stackEnv(), STORE: store, RUN: 'r', TABLE: '' };
  t.is((await runCli('transform/cli.ts', ['--quiet'], env)).code, 0);
  const tableName = randomName('out_');
  t.teardown(async () => { await dynamoClient().send(new DeleteTableCommand({ TableName: tableName })).catch(() => {}); });
  const child = spawn(process.execPath, cliArgv('load/cli.ts', ['--mode', 'batch', '--ddb-table', tableName, '--no-deletion-protection', '--concurrency', '1']), {
    cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let sent = false;
  child.stderr.on('data', (d) => {
    stderr += d;
    if (!sent && /: \d+ items written/.test(stderr)) { sent = true; child.kill('SIGTERM'); }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.true(sent, stderr);
  t.is(code, 143, stderr);
  t.regex(stderr.trimEnd().split('\n').at(-1)!, new RegExp(`^load: interrupted; \\d+ of \\d+ items written into ${tableName} and kept \\(a rerun upserts them again\\); rerun make load RUN=r DDB_TABLE=${tableName} to finish$`));

  // verify, stopped by Ctrl-C while it scans the table it was loaded into, says so the same way.
  const loaded = /^load: (\S+): \d+ items written/m.exec(stderr)![1]!;
  const verify = spawn(process.execPath, cliArgv('verify/cli.ts', ['--ddb-table', tableName, '--table', loaded, '--no-access-patterns']), {
    cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let verifyErr = '';
  let interrupted = false;
  verify.stderr.on('data', (d) => {
    verifyErr += d;
    if (!interrupted && /^verify: scanning /m.test(verifyErr)) { interrupted = true; verify.kill('SIGINT'); }
  });
  t.is(await new Promise<number | null>((resolve) => verify.on('close', resolve)), 130, verifyErr);
  t.is(verifyErr.trimEnd().split('\n').at(-1), `verify: interrupted; nothing was changed and nothing recorded (verify writes its report when it ends); rerun make verify RUN=r TABLE=${loaded} DDB_TABLE=${tableName} to check again`);
});
