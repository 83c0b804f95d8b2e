// Local temp files: where a FileStorage writes an object before renaming it
// into place, and which of them a later run may remove. Several processes,
// possibly on several hosts (shards on a shared file system), write into one
// run at once, so a temp file names its writer and is removed only when that
// writer is provably gone.
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';

/** The run's temp directory, `<run>/.tmp/`: never under items/, where ImportTable would import it. */
export const TEMP_DIR = '.tmp';

/**
 * A temp file untouched this long is a dead writer's, whichever host wrote it:
 * a live writer appends as its data arrives. Deleting a live one could only
 * fail that writer's rename, never publish a partial object.
 */
export const TEMP_LEASE_MS = 24 * 60 * 60 * 1000;

/**
 * This host, as a pid is meaningful on it: the host name and, on Linux, the pid namespace (containers
 * share host names) and the kernel's boot id. A namespace's number is only unique within one kernel
 * (every host's root namespace has the same one), and two machines may share a name (a pod rescheduled
 * on another node), so without the boot id one could take the other's live process for a dead local one.
 */
export const HOST_ID = hostId();

function hostId(): string {
  const name = os.hostname().replace(/[^A-Za-z0-9.-]/g, '_').slice(0, 64) || 'host';
  let id = name;
  try {
    id += `+${/\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))![1]}`;
    id += `+${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').replace(/[^0-9a-f]/g, '').slice(0, 12)}`;
  } catch {
    // Not Linux, or /proc hidden: the name (and namespace) is what there is.
  }
  return id;
}

/** `<host>.<pid>.<16 hex>.tmp`: unique across hosts, processes and calls. */
export function tempName(): string {
  return `${HOST_ID}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`;
}

const TEMP_NAME = /^(.+)\.(\d+)\.[0-9a-f]{16}\.tmp$/;

/**
 * Whether a file of the temp directory is a leftover: this host's with a
 * process no longer alive, or any host's untouched for the lease.
 */
export function isStaleTemp(name: string, mtimeMs: number, now = Date.now(), alive: (pid: number) => boolean = isAlive): boolean {
  const m = TEMP_NAME.exec(name);
  if (!m) return now - mtimeMs > TEMP_LEASE_MS;
  if (isGoneFromThisHost(m[1]!, Number(m[2]), alive)) return true;
  return now - mtimeMs > TEMP_LEASE_MS;
}

/** Whether `pid` of `host` is provably gone: a process of this host, not this one, no longer alive. */
export function isGoneFromThisHost(host: string, pid: number, alive: (pid: number) => boolean = isAlive): boolean {
  return host === HOST_ID && pid !== process.pid && !alive(pid);
}

/** Whether a process with this id exists on this host (EPERM: it does, as another user). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
