// What a transform worker slot does with a task: run a unit, or build a join
// index, by name. A task carries names and options, never rows: the slot reads
// the run's own files. Used by worker threads (worker.ts, bundled as plain
// JavaScript, so mappers come as their compiled modules, not via registry.ts)
// and by the main thread when it takes a slot itself (workers.ts).
import { UserError } from '../lib/errors.ts';
import { readExtractManifest, type ExtractManifest } from '../lib/manifest.ts';
import { runStorage } from '../lib/config.ts';
import type { Storage } from '../lib/storage.ts';
import type { Mapper } from '../model/entity.ts';
import type { Unit, UnitOptions, UnitRecord } from './units.ts';
import { genericMapper } from '../model/registry.ts';
import { JoinIndex, type JoinIndexData, type JoinIndexFile } from './join-index.ts';
import { buildJoin, transformUnit } from './unit.ts';

/** Which run a pool of slots serves. */
export interface TaskSource { store: string; run: string; options: UnitOptions }

/** A unit: its names, its mapper as the main thread loaded it, and its join indexes (shared, not copied). */
export interface UnitTask extends TaskSource {
  kind: 'unit';
  table: string;
  index: number;
  fingerprint: string;
  /** `module` is the mapper's compiled JavaScript; none for the generic mapping. */
  mapper: { file: string; hash: string; module?: string };
  joins: [name: string, data: JoinIndexData][];
}
export interface JoinTask extends TaskSource { kind: 'join'; table: string; match: string; take: string }

export interface OpenRun { run: Storage; extract: ExtractManifest }

/** A slot opens its run once and keeps it for the pool's life (one transform of one run). */
export async function openRun(source: TaskSource): Promise<OpenRun> {
  const run = runStorage(source.store, source.run);
  const extract = await readExtractManifest(run);
  if (!extract) throw new UserError(`no extract manifest in ${run.uri}`);
  return { run, extract };
}

export async function unitOf(task: UnitTask, extract: ExtractManifest): Promise<Unit> {
  const table = extract.tables.find((t) => t.name === task.table);
  const part = table?.parts[task.index];
  if (!table || !part) throw new Error(`transform worker: no unit ${task.table} #${task.index}`);
  const mapper = task.mapper.module
    ? { mapper: (await import(task.mapper.module)).default as Mapper, hash: task.mapper.hash, file: task.mapper.file }
    : genericMapper(table);
  return { mapping: { table, mapping: task.mapper.module ? 'mapper' : 'generic', mapper }, part, index: task.index, fingerprint: task.fingerprint };
}

export async function runTask(
  task: UnitTask | JoinTask, { run, extract }: OpenRun, onProgress: (rows: number, bytes: number) => void,
): Promise<UnitRecord | JoinIndexFile> {
  if (task.kind === 'join') return buildJoin(run, extract, task.table, task.match, task.take, task.options.input);
  const joins = new Map(task.joins.map(([name, data]) => [name, new JoinIndex(data)]));
  return transformUnit(run, await unitOf(task, extract), extract, joins, task.options, onProgress);
}
