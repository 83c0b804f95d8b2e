// verify reads the run's item files in a worker thread while the main thread
// scans the table: parsing, canonicalising and hashing each line costs about
// as much CPU as the Scan's own (~25 µs per 1 KB item), so on one thread verify
// took 1.7× a plain Scan (make bench); on two cores the sides overlap.
// The thread loads TypeScript as the CLIs do (tsx), with a capped heap.
import { mkdtempSync, rmSync, createReadStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { UserError } from '../lib/errors.ts';
import { readRecords } from './sorted-records.ts';
import { RUN_RECORD_BYTES, type RunUnit } from './verify-items.ts';

export interface RunSideJob { store: string; runId: string; units: RunUnit[]; unitIndexes: number[]; concurrency: number; file: string }

/** The run side sorted in a file, as a RecordSorter gives it: `total`, `sorted()`, `close()`. */
export interface SortedRunSide { total: number; sorted(): AsyncIterable<Buffer>; close(): void }

const WORKER_ENTRY = new URL('./verify-run-worker.ts', import.meta.url);

/** Starts the thread; `stop` ends it early (the Scan failed) and removes its file. */
export function startRunSideThread(job: Omit<RunSideJob, 'file'>): { result: Promise<SortedRunSide>; stop: () => Promise<void> } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pg2ddb-verify-'));
  const file = path.join(dir, 'run-side');
  const close = () => rmSync(dir, { recursive: true, force: true });
  const worker = new Worker(`import { register } from 'tsx/esm/api'; register(); await import(${JSON.stringify(WORKER_ENTRY.href)});`, {
    eval: true, workerData: { ...job, file } satisfies RunSideJob,
    // Its working set is a sort buffer and a few item files' lines: a capped heap keeps its RSS flat.
    resourceLimits: { maxOldGenerationSizeMb: 96, maxYoungGenerationSizeMb: 24 },
  });
  const result = new Promise<{ count?: number; error?: string; user?: boolean }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`verify's item-file thread ended (exit ${code}) before it reported`)));
  }).then((reply): SortedRunSide => {
    if (reply.error !== undefined) throw reply.user ? new UserError(reply.error) : new Error(reply.error);
    return { total: reply.count!, sorted: () => readRecords(createReadStream(file, { highWaterMark: 64 * 1024 }), RUN_RECORD_BYTES, file), close };
  });
  result.catch(close);
  return { result, stop: async () => { await worker.terminate(); close(); } };
}
