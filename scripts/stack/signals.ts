// SIGINT/SIGTERM/SIGHUP while the stack is being started, used or stopped:
// held until the stack is consistent, forwarded to the command `run` runs,
// never allowed to leave services behind by killing this process mid-way.
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { Logger } from '../../lib/log.ts';

const TRAPPED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export class SignalTrap {
  received: NodeJS.Signals | undefined;
  private child: ChildProcess | undefined;

  constructor(private readonly log: Logger) {
    for (const signal of TRAPPED) process.on(signal, this.onSignal);
  }

  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.received ??= signal;
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill(signal);
    } else {
      this.log(`${signal}: the stack will be stopped cleanly, please wait`);
    }
  };

  forwardTo(child: ChildProcess | undefined): void {
    this.child = child;
  }

  /** The shell convention for "ended by a signal": 128 + its number. */
  exitCode(): number {
    return 128 + (this.received ? os.constants.signals[this.received] : 0);
  }

  release(): void {
    for (const signal of TRAPPED) process.off(signal, this.onSignal);
  }
}

export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + os.constants.signals[signal];
}
