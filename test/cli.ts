// Runs a stage's CLI as a user would, in a child process.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI_ENTRIES } from '../scripts/build.ts';

export const REPO = fileURLToPath(new URL('..', import.meta.url));

let built = false;

/**
 * Node's arguments that start `script` with `args` as make does: a stage CLI
 * from the build's JavaScript (dist/, rebuilt first when a source changed),
 * under tsx only for a model of one's own (MODEL, --model), which is
 * TypeScript; other scripts from source. tsx's start-up cost ~1 CPU-second
 * more per process, and the suites start several hundred.
 */
export function cliArgv(script: string, args: string[], env: Record<string, string | undefined> = process.env): string[] {
  if (!CLI_ENTRIES.includes(script)) return ['--import', 'tsx/esm', script, ...args];
  if (!built) {
    // make's own rule decides whether the build is stale; the lock keeps test processes from building at once.
    mkdirSync(path.join(REPO, '.local'), { recursive: true });
    execFileSync('flock', [path.join(REPO, '.local', 'build.lock'), 'make', '-s', '--no-print-directory', 'dist/build.json'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
    built = true;
  }
  const model = Boolean(env.MODEL) || args.some((a) => a === '--model' || a.startsWith('--model='));
  return ['--enable-source-maps', ...(model ? ['--import', 'tsx/esm'] : []), path.join('dist', script.replace(/\.ts$/, '.js')), ...args];
}

export interface CliResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** `timeoutMs`: a CLI still running then is killed (SIGKILL), so a hang fails the test with `signal` set. */
export function runCli(script: string, args: string[], env: Record<string, string | undefined>, timeoutMs?: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const childEnv = { ...process.env, TABLE: '', RUN: '', STORE: '', CONCURRENCY: '', ...env };
    const child = spawn(process.execPath, cliArgv(script, args, childEnv), {
      cwd: REPO,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}
