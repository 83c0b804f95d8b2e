// Runs units on worker threads, one unit per thread at a time, so decoding and
// gzip use every core. Each result is the same bytes a single thread would make.
import { Worker } from 'node:worker_threads';
import { UserError } from '../lib/errors.ts';
import type { UnitRecord } from './plan.ts';
import type { UnitTask, WorkerMessage } from './worker.ts';

const BOOT = new URL('./worker-boot.mjs', import.meta.url);
const ENTRY = new URL('./worker.ts', import.meta.url).href;

export class UnitWorkers {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly waiting: ((worker: Worker) => void)[] = [];

  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(BOOT, { workerData: { entry: ENTRY } });
      this.all.push(worker);
      this.idle.push(worker);
    }
  }

  private acquire(): Promise<Worker> {
    const worker = this.idle.pop();
    return worker ? Promise.resolve(worker) : new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(worker: Worker): void {
    const next = this.waiting.shift();
    if (next) next(worker);
    else this.idle.push(worker);
  }

  async run(task: UnitTask, onProgress: (rows: number, bytes: number) => void): Promise<UnitRecord> {
    const worker = await this.acquire();
    try {
      return await new Promise<UnitRecord>((resolve, reject) => {
        const onMessage = (message: WorkerMessage) => {
          if (message.type === 'progress') return onProgress(message.rows, message.bytes);
          cleanup();
          if (message.type === 'done') resolve(message.record);
          else reject(message.user ? new UserError(message.message) : new Error(message.message));
        };
        const onError = (err: Error) => { cleanup(); reject(err); };
        const onExit = (code: number) => { cleanup(); reject(new Error(`transform worker exited with code ${code}`)); };
        const cleanup = () => {
          worker.off('message', onMessage);
          worker.off('error', onError);
          worker.off('exit', onExit);
        };
        worker.on('message', onMessage);
        worker.on('error', onError);
        worker.on('exit', onExit);
        worker.postMessage(task);
      });
    } finally {
      this.release(worker);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}
