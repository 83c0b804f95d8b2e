// Worker threads do not inherit the parent's `--import tsx/esm` loader hooks
// (Node 20), so each worker registers tsx itself before loading its entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
