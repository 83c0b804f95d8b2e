// `run -- <cmd...>`: the stack for the lifetime of one command. The command
// sees the stack's env plus STACK_DIR and STACK_ENV_FILE (what test/stack.ts
// reads); the stack goes down afterwards whatever happens, and the exit code
// is the command's.
import { spawn } from 'node:child_process';
import type { Logger } from '../../lib/log.ts';
import { down, inspectStack, stoppedServices, up } from './lifecycle.ts';
import type { StackPaths } from './paths.ts';
import { SignalTrap, signalExitCode } from './signals.ts';

export async function runWithStack(paths: StackPaths, command: string[], log: Logger, baseEnv: NodeJS.ProcessEnv = process.env): Promise<number> {
  const trap = new SignalTrap(log);
  let started = false;
  try {
    const stack = await up(paths, log, { owned: true });
    started = stack.started;
    if (!started) log('using the stack that is already up; it stays up afterwards');
    if (trap.received) return trap.exitCode();

    const child = spawn(command[0]!, command.slice(1), {
      stdio: 'inherit',
      env: { ...baseEnv, ...stack.env, STACK_DIR: paths.dir, STACK_ENV_FILE: paths.envFile },
    });
    trap.forwardTo(child);
    return await new Promise<number>((resolve) => {
      child.once('error', (err) => {
        log(`cannot run ${command[0]}: ${err.message}`);
        resolve(127);
      });
      child.once('exit', (code, signal) => resolve(code ?? signalExitCode(signal!)));
    });
  } finally {
    trap.forwardTo(undefined);
    // A service that died under the command explains its failures: say so before the stack goes.
    const state = inspectStack(paths);
    if (state.env && !state.up && state.owner?.alive) log(stoppedServices(paths, state));
    try {
      if (started) await down(paths, log);
    } finally {
      trap.release();
    }
  }
}
