// `cutover`: the switch to DynamoDB as one command. Lag first (how long the
// freeze will be), then writers stopped (asked on a terminal, --writers-stopped
// elsewhere), drain the slot to zero, then prove the table equals the database
// at that instant: a fresh extract + transform of the frozen source into a new
// run, verified against the table by `verify` (every item, no strays). Go only
// when every check passes. The stages run as their own CLIs: they meet here,
// as everywhere, through the run's files.
import { MODEL_OPTION, modelDir } from '../model/registry.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline/promises';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { checkRunId, commonOptions, parseCli, runStorage } from '../lib/config.ts';
import { UserError } from '../lib/errors.ts';
import { exitOnInterrupt, formatBytes, logger, runCli } from '../lib/log.ts';
import { emitResult, jsonOption, makeCommand } from '../lib/output.ts';
import { nodeArgs, PACKAGE_ROOT } from '../lib/runtime.ts';
import { readTransformManifest } from '../lib/transform-manifest.ts';
import { recordLoaded } from '../lib/loaded-tables.ts';
import { checkTableName } from '../model/table-spec.ts';
import { readFollowedRun, runCatchup, warnRetained } from './catchup.ts';
import { Slot } from './slot.ts';

const usage = `cutover: drain a FOLLOW=1 run's changes with writers stopped and prove the table equals the source

Usage: cutover [--writers-stopped] [--fresh-run <id>] [options]

1. prints the lag (what the freeze will have to drain) and the WAL the slot retains;
2. asks that every writer to the source be stopped (on a terminal), or takes --writers-stopped;
3. catchup, one pass up to the WAL position current then;
4. extract + transform the frozen source into a fresh run (<run>-cutover by default), and
   verify that run against $DDB_TABLE: every item equal, no stray item, access patterns;
5. prints GO (exit 0) or NO-GO (exit 1) and the steps left: switch the application to
   DynamoDB, then make catchup ARGS=--drop-slot.`;

/** The stage's CLI `stage` is running, for SIGTERM to stop it too. */
let running: ChildProcess | undefined;

await runCli('cutover', async () => {
  const args = await parseCli(jsonOption(commonOptions(yargs(hideBin(process.argv)).usage(usage)))
    .option('ddb-table', { type: 'string', default: process.env.DDB_TABLE || undefined, defaultDescription: '$DDB_TABLE or pg2ddb-<run>', describe: 'The DynamoDB table the run was loaded into' })
    .option('writers-stopped', { type: 'boolean', default: false, describe: 'Every writer to the source is stopped (no prompt)' })
    .option('fresh-run', { type: 'string', describe: 'Run id of the comparison run (default <run>-cutover)' })
    .option('model', MODEL_OPTION)
    .option('quiet', { type: 'boolean', default: false, describe: 'No progress lines on stderr' }), 'cutover');
  const entities = modelDir(args.model);
  const log = args.quiet ? () => {} : logger('cutover');
  const databaseUrl = process.env.DATABASE_URL || undefined;
  const tableName = checkTableName(args['ddb-table'] ?? `pg2ddb-${checkRunId(args.run)}`);
  const fresh = checkRunId(args['fresh-run'] ?? `${args.run}-cutover`);
  if (fresh === args.run) throw new UserError('--fresh-run must name another run than --run: it is extracted afresh');

  exitOnInterrupt('cutover', () => {
    // The stage running now gets the signal too: alone, it would run on as an orphan.
    running?.kill('SIGTERM');
    return `nothing was switched and the changes drained so far are kept (the slot is confirmed up to the last durable batch); rerun ${makeCommand('cutover', args, ['ARGS=--writers-stopped'])}`;
  });
  const { follow, extract, transform: transformed } = await readFollowedRun(runStorage(args.store, args.run), args.run, entities);
  const slot = await Slot.open(databaseUrl, follow);
  const before = await slot.state().finally(() => slot.close());
  log(`1. lag ${formatBytes(before.lag_bytes)} / ${before.lag_seconds.toFixed(1)} s; slot ${follow.slot} retains ${formatBytes(before.retained_bytes)} of WAL`);
  warnRetained(before, follow.slot, log);

  if (!args['writers-stopped']) {
    if (!process.stdin.isTTY) throw new UserError('cutover needs every writer to the source stopped: stop them, then rerun with --writers-stopped (make cutover ARGS=--writers-stopped)');
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await rl.question('2. stop every writer to the source (the application\'s writes, jobs, migrations), then type "stopped": ');
    rl.close();
    if (answer.trim() !== 'stopped') throw new UserError('cutover stopped: writers were not confirmed stopped; nothing was changed');
  } else log('2. writers stopped (--writers-stopped)');

  // One pass, up to the WAL position current now: with the writers stopped it drains everything; a writer still
  // running leaves changes in the slot, which fail the cutover below (looping until none were left need not end while it writes).
  log('3. draining the slot');
  const drained = await runCatchup({ databaseUrl, store: args.store, run: args.run, tableName, concurrency: args.concurrency, entities, log });

  log(`4. fresh run ${fresh}: extract, transform, verify against ${tableName}`);
  // The fresh run is mapped and verified with the same model (MODEL reaches transform's and verify's --model).
  const env = { ...process.env, RUN: fresh, TABLE: '', FOLLOW: '', MODEL: entities ?? '' };
  // The fresh run reads and maps as the run did (its schemas, its unmapped tables), whatever this shell's settings.
  await stage('extract/cli.ts', ['--run', fresh, '--quiet', ...extract.options.schemas.flatMap((s) => ['--schema', s])], env);
  await stage('transform/cli.ts', ['--run', fresh, '--quiet', '--unmapped', transformed.options.unmapped], env);
  const freshRun = runStorage(args.store, fresh);
  const transform = await readTransformManifest(freshRun);
  // verify compares a run with the table it was loaded into; this run was never loaded: the table is what catchup made it.
  await recordLoaded(freshRun, fresh, tableName, transform!.tables.filter((t) => t.mapping !== 'skip'), 'cutover', false);
  const verified = await stage('verify/cli.ts', ['--run', fresh, '--ddb-table', tableName, '--json'], env, true);
  const report = JSON.parse(verified.stdout) as { ok: boolean; checks: { name: string; ok: boolean; numbers: Record<string, number> }[] };
  // A writer still running fails the cutover even when its writes all came after the fresh run's snapshot (the
  // run and the table then agree): nothing may have reached the slot since the drain.
  const after = await Slot.open(databaseUrl, follow);
  const late = await after.pendingChanges().finally(() => after.close());
  const go = report.ok && late === 0;
  const items = report.checks.find((c) => c.name.startsWith('every item'))?.numbers ?? {};
  const strays = report.checks.find((c) => c.name.startsWith('no item'))?.numbers ?? {};
  const summary = {
    run: args.run, fresh_run: fresh, table_name: tableName, go,
    lag_before: { bytes: before.lag_bytes, seconds: before.lag_seconds },
    drained: { transactions: drained.transactions, puts: drained.writes.puts, deletes: drained.writes.deletes, rejected: drained.rejected },
    compared: items.compared ?? 0, differing: items.differing ?? 0, missing: items.missing ?? 0, stray: strays.stray ?? 0,
    failed_checks: [
      ...report.checks.filter((c) => !c.ok).map((c) => c.name),
      ...(late > 0 ? [`${late} row change(s) committed at the source during the cutover: a writer is still running`] : []),
    ],
  };
  emitResult('cutover', { json: args.json }, summary, go
    ? [`GO: ${summary.compared} items equal, 0 differing, 0 stray → next: switch the application to ${tableName} (writers stay stopped until then), then make catchup RUN=${args.run} ARGS=--drop-slot`]
    : [`NO-GO: ${summary.differing} differing, ${summary.missing} missing, ${summary.stray} stray; failed: ${summary.failed_checks.join('; ')} → keep the application on PostgreSQL; see ${freshRun.uri}/load/verify.json`]);
  if (!args.json) process.stderr.write(`cutover: ${go ? 'GO' : 'NO-GO'}\n`);
  return go ? 0 : 1;
});

/** Runs a stage's CLI as make would; fails with its last line unless `allowFailure` (verify exits 1 on a failed check). */
function stage(script: string, argv: string[], env: NodeJS.ProcessEnv, allowFailure = false): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs(script), ...argv], { cwd: PACKAGE_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    running = child;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => { stderr += d; process.stderr.write(d); });
    child.on('error', reject);
    child.on('close', (code) => {
      running = undefined;
      if (code === 0 || (allowFailure && code === 1 && stdout.trim().startsWith('{'))) resolve({ code, stdout });
      else reject(new UserError(`cutover: ${script} failed (exit ${code}): ${stderr.trim().split('\n').pop() ?? ''}`));
    });
  });
}
