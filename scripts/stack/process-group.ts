// Services run detached, each the leader of its own process group, so that
// they outlive the `up` process and `down` can end the whole group (postgres
// backends, the JVM's threads) with one signal. Liveness comes from /proc:
// a recorded pgid is only trusted when a member of that group carries this
// stack's marker, so a pid reused after a crash or reboot is never killed.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServiceName, StackPaths } from './paths.ts';

/** Set in every service's environment; names the stack dir that owns it. */
const MARKER = 'PG2DDB_STACK_DIR';

export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

export function portAcceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

export interface DetachedSpawn {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
}

/** Starts `command` as its own process group, logs to <svc>.log, records the pgid in <svc>.pid. */
export async function spawnDetached(paths: StackPaths, service: ServiceName, spec: DetachedSpawn): Promise<ChildProcess> {
  const log = fs.openSync(paths.logFile(service), 'a');
  let child: ChildProcess;
  try {
    child = spawn(spec.command, spec.args, {
      detached: true,
      stdio: ['ignore', log, log],
      env: { ...(spec.env ?? process.env), [MARKER]: paths.dir },
      cwd: spec.cwd,
      uid: spec.uid,
      gid: spec.gid,
    });
  } finally {
    fs.closeSync(log);
  }
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(new Error(`${service}: cannot start ${spec.command}: ${err.message}`)));
  });
  // detached => setsid(), so the child's pid is also its process group id.
  fs.writeFileSync(paths.pidFile(service), `${child.pid}\n`);
  child.unref();
  return child;
}

interface ProcStat { pid: number; state: string; pgrp: number; startTime: string }

function readStat(pid: number): ProcStat | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parentheses: parse after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid, state: fields[0]!, pgrp: Number(fields[2]), startTime: fields[19]! };
  } catch {
    return undefined;
  }
}

/** Live (non-zombie) members of a process group. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') members.push(stat.pid);
  }
  return members;
}

function belongsToStack(pid: number, paths: StackPaths): boolean {
  try {
    const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    if (environ.includes(`${MARKER}=${paths.dir}`)) return true;
  } catch { /* gone, or not ours to read */ }
  try {
    // PostgreSQL may rewrite its environ area for ps titles; its argv still names the data dir.
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.includes(paths.pgDataDir) || argv.includes(paths.s3Dir) || argv.includes(`-Dpg2ddb.stack=${paths.dir}`);
  } catch {
    return false;
  }
}

export function readPidFile(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The service's pgid when its group is alive and belongs to this stack dir. */
export function liveServiceGroup(paths: StackPaths, service: ServiceName): number | undefined {
  const pgid = readPidFile(paths.pidFile(service));
  if (pgid === undefined) return undefined;
  const members = groupMembers(pgid);
  return members.some((pid) => belongsToStack(pid, paths)) ? pgid : undefined;
}

/** Signals the group, escalates to SIGKILL after graceMs, returns once no member is left. */
export async function stopGroup(pgid: number, signal: NodeJS.Signals, graceMs = 5000): Promise<'stopped' | 'killed'> {
  const signalGroup = (sig: NodeJS.Signals) => {
    try { process.kill(-pgid, sig); } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  };
  signalGroup(signal);
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (groupMembers(pgid).length === 0) return 'stopped';
    await sleep(50);
  }
  signalGroup('SIGKILL');
  while (groupMembers(pgid).length > 0) await sleep(50);
  return 'killed';
}

/** A process identity that survives pid reuse: pid plus its start time in clock ticks. */
export function processIdentity(pid: number): string | undefined {
  const stat = readStat(pid);
  return stat && stat.state !== 'Z' ? `${pid} ${stat.startTime}` : undefined;
}

export function isSameProcessAlive(identity: string): boolean {
  const pid = Number(identity.split(' ')[0]);
  return Number.isInteger(pid) && processIdentity(pid) === identity;
}

/** The last lines of a service log, for error messages. */
export function logTail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Waits for `ready()` to resolve true, failing early when the service's
 * process exits first (a port taken since freePort(), a bad flag).
 */
export async function waitUntilReady(
  child: ChildProcess,
  what: string,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  let exited: string | undefined;
  const onExit = (code: number | null, signal: NodeJS.Signals | null) => { exited = signal ?? `code ${code}`; };
  child.once('exit', onExit);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exited) throw new ServiceExitedError(`${what} exited (${exited}) before it was ready`);
      if (await ready().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs} ms`);
      await sleep(50);
    }
  } finally {
    child.off('exit', onExit);
  }
}

export class ServiceExitedError extends Error {}
