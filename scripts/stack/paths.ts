// Where the local stack keeps its state. Everything is resolved from this
// file's location so the stack works from any cwd.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export type ServiceName = 'postgres' | 's3' | 'dynamodb' | 'import-endpoint';

export interface StackPaths {
  dir: string;
  envFile: string;
  /** Written by `run`: the pid of the process that will take the stack down. */
  ownerFile: string;
  lockFile: string;
  pgDataDir: string;
  pgSocketDir: string;
  s3Dir: string;
  pidFile(service: ServiceName): string;
  logFile(service: ServiceName): string;
}

export function stackDirFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.STACK_DIR || path.join(repoRoot, '.local'));
}

export function stackPaths(dir: string): StackPaths {
  return {
    dir,
    envFile: path.join(dir, 'env'),
    ownerFile: path.join(dir, 'owner.pid'),
    lockFile: path.join(dir, 'lock'),
    pgDataDir: path.join(dir, 'pg', 'data'),
    pgSocketDir: path.join(dir, 'pg', 'run'),
    s3Dir: path.join(dir, 's3'),
    pidFile: (service) => path.join(dir, `${service}.pid`),
    logFile: (service) => path.join(dir, `${service}.log`),
  };
}
