// One extract at a time writes a run's parts and manifest. Two at once (two
// `TABLE=` reruns, say) each merge the manifest they read with their own
// tables and write it back: the later write restored the other's old entry
// while its part held new bytes, and when that entry was the one transform had
// already used, no stage read the part again: the rerun was lost silently.
//
// S3 has no lock, and the local S3 server no conditional put, so each writer
// puts a lock object of its own and then lists the others: an object store
// that lists what was put before (S3 has since 2020) shows at least one of two
// writers the other's lock, and it gives up. Two that start together may both
// give up; neither goes on unseen. A lock is live while its writer renews it;
// one of a process gone from this host, or not renewed for LOCK_STALE_MS, is
// a leftover and is removed.
//
// A sharded extract's coordinator holds the lock while it holds the snapshot
// and names it in the plan: its shards write only while no other lock is live,
// and its finalize takes a lock beside it.
import { randomBytes } from 'node:crypto';
import { UserError } from './errors.ts';
import { beforeInterrupt } from './log.ts';
import type { Storage } from './storage.ts';
import { HOST_ID, isGoneFromThisHost } from './temp-files.ts';

export const LOCKS_PREFIX = '.locks/extract';
/** How often a writer renews its lock. */
export const LOCK_RENEW_MS = 30_000;
/** A lock not renewed this long is a leftover, whichever host wrote it (a writer renews every LOCK_RENEW_MS). */
export const LOCK_STALE_MS = 5 * 60_000;

/** `beside`: the lock this one was taken beside (finalize's, its coordinator's); the two are no rivals. */
interface LockRecord { host: string; pid: number; started: string; renewed: string; what: string; beside?: string }

/** A held lock: release it when the work is done, failed or not. */
export interface RunLock {
  /** Its object's key in the run (a coordinator's goes into the plan). */
  key: string;
  /**
   * Fails when the lock is no longer there: another extract took it for a
   * leftover (this one paused past LOCK_STALE_MS, or its clock is behind).
   * Called before the manifest is written, which then would undo that one's work.
   */
  check(): Promise<void>;
  release(): Promise<void>;
}

export interface LockOptions {
  /** A lock this one may hold beside: finalize's, the coordinator's of its plan. */
  beside?: string;
  now?: () => number;
  renewMs?: number;
}

/**
 * Takes the run's extract lock for `what` (said to a writer refused), or
 * fails in one line naming the writer that holds it.
 */
export async function lockRun(run: Storage, what: string, log: (message: string) => void, options: LockOptions = {}): Promise<RunLock> {
  const { beside, now = Date.now, renewMs = LOCK_RENEW_MS } = options;
  const key = `${LOCKS_PREFIX}/${HOST_ID}.${process.pid}.${randomBytes(8).toString('hex')}.json`;
  const skip = [key, ...(beside ? [beside] : [])];
  const record: LockRecord = { host: HOST_ID, pid: process.pid, started: new Date(now()).toISOString(), renewed: '', what, ...(beside ? { beside } : {}) };
  const put = () => run.put(key, `${JSON.stringify({ ...record, renewed: new Date(now()).toISOString() })}\n`);
  await put();
  let held: LiveLock | undefined;
  try {
    held = await liveOther(run, skip, now, async (leftover) => {
      log(`removed ${run.uri}/${leftover}, the lock of an extract that is gone`);
      await run.delete(leftover);
    });
  } catch (err) {
    await run.delete(key).catch(() => {});
    throw err;
  }
  if (held) {
    await run.delete(key);
    throw new UserError(`another extract is writing run ${run.uri} (${describe(held)}): ` +
      'two at once would each write the manifest without the other\'s tables; wait for it to end and run this again ' +
      `(${goneWhen(run, held)})`);
  }
  // A renewal that fails is retried at the next one; the lock goes stale only after LOCK_STALE_MS of them.
  // One under way when the lock is released would put it back after the delete: release waits for it.
  let renewing: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => { renewing = put().catch(() => {}); }, renewMs);
  timer.unref();
  let done: Promise<void> | undefined;
  const release = () => done ??= (async () => {
    clearInterval(timer);
    withdraw();
    await renewing;
    await run.delete(key);
  })();
  // SIGTERM (a stopped task, Ctrl-C) exits without unwinding: the lock goes first, or a rerun on another host waits it out.
  const withdraw = beforeInterrupt(release);
  // Another live lock counts too: a renewal may have put this one back after the other extract removed it.
  // A rival refused meanwhile (it lists, sees this lock, deletes its own) is live for a few requests: asked again, it is gone.
  const check = async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await run.getText(key) === undefined) break;
      if (!(await liveOther(run, skip, now))) return;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    throw new UserError(`this extract's lock ${run.uri}/${key} was taken by another extract, which took it for a leftover (this one was paused over ${LOCK_STALE_MS / 60_000} minutes, or its host's clock is behind): the manifest is not written; ` +
      'once no other extract of the run is running, run this again');
  };
  return { key, check, release };
}

/**
 * For a shard of a sharded extract, which takes no lock of its own (shards write
 * apart, at once): fails when an extract other than its coordinator, whose lock
 * the plan names, holds the run. Asked before it copies and before its fragment.
 */
export async function checkShardWrites(run: Storage, coordinator: string | undefined, now: () => number = Date.now): Promise<void> {
  const held = await liveOther(run, coordinator ? [coordinator] : [], now);
  if (!held) return;
  throw new UserError(`another extract is writing run ${run.uri} (${describe(held)}), not this shard's coordinator: ` +
    'its parts and this shard\'s would overwrite one another; if it is a new coordinator of the run, rerun this shard once its plan is written; ' +
    'otherwise wait for it to end, then start a new coordinator and rerun every shard ' +
    `(${goneWhen(run, held)})`);
}

export interface LiveLock { key: string; lock: LockRecord }

const describe = ({ lock }: LiveLock) => `${lock.what}; host ${lock.host}, pid ${lock.pid}, started ${lock.started}, lock renewed ${lock.renewed}`;
const goneWhen = (run: Storage, held: LiveLock) =>
  `if that writer was killed, its lock ${run.uri}/${held.key} counts as gone ${LOCK_STALE_MS / 60_000} minutes after its last renewal, or at once on its own host`;

/**
 * The first live lock other than those in `skip` or taken beside `skip[0]`
 * (the asker's own, or a shard's coordinator's); each leftover met before it
 * goes to `onLeftover`, if given. Two locks beside one coordinator (two
 * finalizes of one plan) are rivals: each would write the manifest.
 */
async function liveOther(run: Storage, skip: string[], now: () => number, onLeftover?: (key: string) => Promise<void>): Promise<LiveLock | undefined> {
  for await (const { key, lock } of locksOf(run, skip)) {
    if (lock && !isLeftover(lock, now())) {
      if (lock.beside !== undefined && lock.beside === skip[0]) continue;
      return { key, lock };
    }
    await onLeftover?.(key);
  }
  return undefined;
}

/** The extracts writing the run now, by their live locks (for `make status`; leftovers are left alone). */
export async function runningExtracts(run: Storage, now: () => number = Date.now): Promise<LiveLock[]> {
  const running: LiveLock[] = [];
  for await (const { key, lock } of locksOf(run, [])) if (lock && !isLeftover(lock, now())) running.push({ key, lock });
  return running;
}

/** The run's locks but those in `skip`, read (undefined: not a lock this code wrote); one released since it was listed is passed over. */
async function* locksOf(run: Storage, skip: string[]): AsyncGenerator<{ key: string; lock: LockRecord | undefined }> {
  for (const { key } of await run.list(LOCKS_PREFIX)) {
    if (skip.includes(key)) continue;
    const lock = parseLock(await run.getText(key));
    if (lock !== null) yield { key, lock };
  }
}

/** The record, null when the object is gone, undefined when it is no lock this code wrote (a leftover to remove). */
function parseLock(text: string | undefined): LockRecord | null | undefined {
  if (text === undefined) return null;
  try {
    const lock = JSON.parse(text) as LockRecord;
    return typeof lock === 'object' && lock !== null && typeof lock.host === 'string' && Number.isInteger(lock.pid) && typeof lock.renewed === 'string' ? lock : undefined;
  } catch {
    return undefined;
  }
}

function isLeftover(lock: LockRecord, now: number): boolean {
  if (isGoneFromThisHost(lock.host, lock.pid)) return true;
  const renewed = Date.parse(lock.renewed);
  return !(renewed > now - LOCK_STALE_MS);
}
