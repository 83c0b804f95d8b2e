// The local stack (PostgreSQL, S3, DynamoDB on free ports) behind `make up`,
// `make down`, `make test` and `make demo`. See scripts/stack/lifecycle.ts.
//
//   node --import tsx/esm scripts/stack.ts up | down | status | run -- <cmd...>
//
// STACK_DIR (default <repo>/.local) holds its state; PG_URL uses that server
// instead of an embedded PostgreSQL; SCALE sizes the fixture data.
import { UserError } from '../lib/errors.ts';
import { logger, runCli } from '../lib/log.ts';
import { down, status, up } from './stack/lifecycle.ts';
import { stackDirFromEnv, stackPaths } from './stack/paths.ts';
import { runWithStack } from './stack/run.ts';
import { SignalTrap } from './stack/signals.ts';

const USAGE = 'usage: stack.ts up | down | status | run -- <command...>';

// What the command under `run` inherits: the caller's environment, not this process's tweaks.
const callerEnv = { ...process.env };
// The project targets Node 20 on purpose: the SDK's notice about Node 22 would bury the summary.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

await runCli('stack', async () => {
  const [command, ...rest] = process.argv.slice(2);
  const paths = stackPaths(stackDirFromEnv());
  const log = logger('stack');
  switch (command) {
    case 'up': {
      // Ctrl-C while starting: finish or fail cleanly, then take it all down again.
      const trap = new SignalTrap(log);
      try {
        await up(paths, log);
      } finally {
        trap.release();
      }
      if (trap.received) {
        await down(paths, log);
        return trap.exitCode();
      }
      return 0;
    }
    case 'down':
      await down(paths, log);
      return 0;
    case 'status':
      return (await status(paths, log)) ? 0 : 3;
    case 'run': {
      const argv = rest[0] === '--' ? rest.slice(1) : rest;
      if (argv.length === 0) throw new UserError(`run needs a command\n${USAGE}`);
      return runWithStack(paths, argv, log, callerEnv);
    }
    default:
      throw new UserError(USAGE);
  }
});
