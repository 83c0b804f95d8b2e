// verify's run side in a thread of its own (verify-run-thread.ts): reads the
// item files it is given into a RecordSorter and writes them, sorted, to `file`.
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { runStorage } from '../lib/config.ts';
import { UserError, errorMessage } from '../lib/errors.ts';
import { RecordSorter } from './sorted-records.ts';
import { RUN_RECORD_BYTES, readRunSide } from './verify-items.ts';
import { recordBytes } from './verify-shards.ts';
import type { RunSideJob } from './verify-run-thread.ts';

const job = workerData as RunSideJob;
const sorter = new RecordSorter(RUN_RECORD_BYTES);
try {
  await readRunSide(runStorage(job.store, job.runId), job.units, job.unitIndexes, job.concurrency, sorter);
  await pipeline(recordBytes(sorter.sorted(), RUN_RECORD_BYTES), createWriteStream(job.file));
  parentPort!.postMessage({ count: sorter.total });
} catch (err) {
  parentPort!.postMessage({ error: errorMessage(err), user: err instanceof UserError });
} finally {
  sorter.close();
}
