// $STACK_DIR/env: KEY=value lines that `set -a; . .local/env` and
// test/stack.ts's stackEnv() both read. Written last by `up`, so its presence
// means the stack came up completely.
import fs from 'node:fs';

export type StackEnv = Record<string, string>;

/** Plain values stay bare (a Makefile can include them); anything else is single-quoted for sh. */
function shellValue(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]*$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export function formatEnv(env: StackEnv): string {
  return Object.entries(env).map(([key, value]) => `${key}=${shellValue(value)}\n`).join('');
}

export function parseEnv(text: string): StackEnv {
  const env: StackEnv = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (!match) continue;
    const raw = match[2]!;
    env[match[1]!] = raw.startsWith("'") && raw.endsWith("'") && raw.length >= 2
      ? raw.slice(1, -1).replace(/'\\''/g, "'")
      : raw;
  }
  return env;
}

export function writeEnvFile(file: string, env: StackEnv): void {
  const tmp = `${file}.tmp`;
  // 0600: the URLs carry the PostgreSQL password.
  fs.writeFileSync(tmp, formatEnv(env), { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export function readEnvFile(file: string): StackEnv | undefined {
  try {
    return parseEnv(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
