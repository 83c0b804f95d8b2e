// Runs units, and builds join indexes, in slots that each take one task at a
// time, so decoding and gzip use every core: worker threads, and the calling
// thread itself as one slot. That thread idles otherwise, and a thread of its
// own costs ~40 MB of RSS (its isolate, heap and a copy of the code). Each
// result is the same bytes a single thread would make.
import { Worker } from 'node:worker_threads';
import { UserError } from '../lib/errors.ts';
import type { JoinIndex, JoinIndexFile } from './join-index.ts';
import type { Unit, UnitRecord } from './units.ts';
import { openRun, runTask, type JoinTask, type OpenRun, type TaskSource, type UnitTask } from './task.ts';
import type { WorkerMessage } from './worker.ts';
import { workerBundle, type WorkerBundle } from './worker-bundle.ts';

/** What a worker thread is sent to run `unit`: names, its mapper's compiled module, and its join indexes' data. */
export function unitTask(bundle: WorkerBundle, source: TaskSource, unit: Unit, joins: Map<string, JoinIndex>): UnitTask {
  const { mapping, mapper } = unit.mapping;
  const module = mapping === 'mapper' ? bundle.mappers.get(mapper.file) : undefined;
  if (mapping === 'mapper' && !module) throw new Error(`entity ${mapper.file} is not in the worker bundle`);
  return {
    ...source, kind: 'unit', table: unit.mapping.table.name, index: unit.index, fingerprint: unit.fingerprint,
    mapper: { file: mapper.file, hash: mapper.hash, module },
    joins: [...joins].map(([name, index]) => [name, index.data]),
  };
}

/** A worker thread, or `here`: the calling thread. */
type Slot = Worker | 'here';

export class UnitWorkers {
  private readonly bundle: WorkerBundle;
  private readonly idle: Slot[] = ['here'];
  private readonly threads: Worker[] = [];
  private readonly waiting: ((slot: Slot) => void)[] = [];
  private opened: Promise<OpenRun> | undefined;

  /** `size` slots in all: the calling thread and size - 1 worker threads. */
  constructor(size: number, private readonly source: TaskSource, entities?: string) {
    this.bundle = workerBundle(entities);
    for (let i = 1; i < size; i++) {
      // A young generation of 24 MB instead of 48 MB: measured no slower, and ~10 MB less RSS per thread.
      const worker = new Worker(this.bundle.entry, { resourceLimits: { maxYoungGenerationSizeMb: 24 } });
      this.threads.push(worker);
      this.idle.push(worker);
    }
  }

  run(unit: Unit, joins: Map<string, JoinIndex>, onProgress: (rows: number, bytes: number) => void): Promise<UnitRecord> {
    return this.send<UnitRecord>(unitTask(this.bundle, this.source, unit, joins), onProgress);
  }

  /** The index file; the caller opens it (openJoinIndex), as descriptors a worker opens close when it exits. */
  buildJoin(table: string, match: string, take: string): Promise<JoinIndexFile> {
    return this.send<JoinIndexFile>({ ...this.source, kind: 'join', table, match, take }, () => {});
  }

  private acquire(): Promise<Slot> {
    const slot = this.idle.pop();
    return slot ? Promise.resolve(slot) : new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(slot: Slot): void {
    const next = this.waiting.shift();
    if (next) next(slot);
    else this.idle.push(slot);
  }

  private async send<T>(task: UnitTask | JoinTask, onProgress: (rows: number, bytes: number) => void): Promise<T> {
    const slot = await this.acquire();
    try {
      if (slot === 'here') {
        this.opened ??= openRun(this.source);
        return await runTask(task, await this.opened, onProgress) as T;
      }
      return await new Promise<T>((resolve, reject) => {
        const onMessage = (message: WorkerMessage) => {
          if (message.type === 'progress') return onProgress(message.rows, message.bytes);
          cleanup();
          if (message.type === 'done') resolve(message.result as T);
          else reject(message.user ? new UserError(message.message) : new Error(message.message));
        };
        const onError = (err: Error) => { cleanup(); reject(err); };
        const onExit = (code: number) => { cleanup(); reject(new Error(`transform worker exited with code ${code}`)); };
        const cleanup = () => {
          slot.off('message', onMessage);
          slot.off('error', onError);
          slot.off('exit', onExit);
        };
        slot.on('message', onMessage);
        slot.on('error', onError);
        slot.on('exit', onExit);
        slot.postMessage(task);
      });
    } finally {
      this.release(slot);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((w) => w.terminate()));
  }
}
