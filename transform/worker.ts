// A transform worker thread: runs the tasks it is sent (task.ts) and answers
// with their results. It runs as plain JavaScript (worker-bundle.ts).
import { parentPort } from 'node:worker_threads';
import { UserError, errorMessage } from '../lib/errors.ts';
import type { JoinIndexFile } from './join-index.ts';
import type { UnitRecord } from './units.ts';
import { serveBuilds, type HelperRequest } from './build-helper.ts';
import { openRun, runTask, type JoinTask, type OpenRun, type UnitTask } from './task.ts';

export type WorkerMessage =
  | { type: 'progress'; rows: number; bytes: number }
  | { type: 'done'; result: UnitRecord | JoinIndexFile }
  | { type: 'failed'; message: string; user: boolean };

let opened: Promise<OpenRun> | undefined;
let serve: ((request: HelperRequest) => Promise<void>) | undefined;

parentPort!.on('message', async (task: UnitTask | JoinTask | HelperRequest) => {
  // A build helper's thread serves one unit's batches (build-helper.ts), nothing else.
  if (task.kind === 'build-open' || task.kind === 'build-batch') {
    serve ??= serveBuilds((reply, transfer) => parentPort!.postMessage(reply, transfer));
    return serve(task);
  }
  try {
    opened ??= openRun(task);
    const result = await runTask(task, await opened, (rows, bytes) => {
      parentPort!.postMessage({ type: 'progress', rows, bytes } satisfies WorkerMessage);
    });
    parentPort!.postMessage({ type: 'done', result } satisfies WorkerMessage);
  } catch (err) {
    parentPort!.postMessage({ type: 'failed', message: errorMessage(err), user: err instanceof UserError } satisfies WorkerMessage);
  }
});
