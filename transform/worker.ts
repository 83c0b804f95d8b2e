// A transform worker thread: takes units by (table, part index), runs them and
// answers with their records. It rebuilds the plan from the run's own files, so
// the main thread sends only names and options, never rows.
import { parentPort } from 'node:worker_threads';
import { UserError, errorMessage } from '../lib/errors.ts';
import { readExtractManifest } from '../lib/manifest.ts';
import { runStorage } from '../lib/config.ts';
import { planTables, unitsOf, type UnitOptions } from './plan.ts';
import { JoinIndex, type JoinIndexData } from './join-index.ts';
import { transformUnit } from './unit.ts';

/** What a worker is sent: names and options, and the unit's join indexes (shared memory, not copies). */
export interface UnitTask { store: string; run: string; table: string; index: number; options: UnitOptions; joins: [name: string, data: JoinIndexData][] }
export type WorkerMessage =
  | { type: 'progress'; rows: number; bytes: number }
  | { type: 'done'; record: import('./plan.ts').UnitRecord }
  | { type: 'failed'; message: string; user: boolean };


async function load(task: UnitTask) {
  const run = runStorage(task.store, task.run);
  const extract = (await readExtractManifest(run))!;
  const plans = await planTables(extract, task.options.unmapped);
  return { run, extract, units: plans.flatMap((p) => unitsOf(p, extract, task.options, plans)) };
}

let loaded: ReturnType<typeof load> | undefined;

parentPort!.on('message', async (task: UnitTask) => {
  try {
    loaded ??= load(task);
    const { run, extract, units } = await loaded;
    const unit = units.find((u) => u.plan.table.name === task.table && u.index === task.index);
    if (!unit) throw new Error(`worker: no unit ${task.table} #${task.index}`);
    const joins = new Map(task.joins.map(([name, data]) => [name, new JoinIndex(data)]));
    const record = await transformUnit(run, unit, extract, joins, task.options, (rows, bytes) => {
      parentPort!.postMessage({ type: 'progress', rows, bytes } satisfies WorkerMessage);
    });
    parentPort!.postMessage({ type: 'done', record } satisfies WorkerMessage);
  } catch (err) {
    parentPort!.postMessage({ type: 'failed', message: errorMessage(err), user: err instanceof UserError } satisfies WorkerMessage);
  }
});
