// The join indexes of a transform process (main thread): each opened once and
// shared by every unit and worker thread that needs it.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../lib/errors.ts';
import type { ExtractManifest, TransformInput } from '../lib/manifest.ts';
import type { Storage } from '../lib/storage.ts';
import { openJoinIndex, type JoinIndex } from './join-index.ts';
import { fetchJoin, joinFingerprint, keepJoin, type JoinSpec } from './join-store.ts';
import { buildJoin } from './unit.ts';
import type { Unit } from './units.ts';
import type { UnitWorkers } from './workers.ts';

/**
 * Join lookups (another table's extract, verified against its sha256), read
 * from the copy kept in the run (join-store.ts) or built and kept there: once
 * per run, not once per process. With a worker pool, each is built in one of
 * its slots, like a unit, and shared by every thread.
 */
export class JoinCache {
  private readonly cache = new Map<string, Promise<JoinIndex>>();
  /** Joins openKept found no usable kept index for: get builds them without copying it again. */
  private readonly notKept = new Set<string>();
  constructor(
    private readonly run: Storage, private readonly extract: ExtractManifest, private readonly input?: TransformInput,
    private readonly workers?: UnitWorkers, private readonly log: (message: string) => void = () => {},
    /** Build every index, whatever is kept (--force): a kept one is then replaced. */
    private readonly rebuild = false,
    /** A put that fails fails the build (`transform joins`, whose work is the keeping), instead of being logged. */
    private readonly mustKeep = false,
  ) {}

  /** The index of the join, kept in the run (transform/join-store.ts) or built once by this process and kept. */
  get(table: string, match: string, take: string): Promise<JoinIndex> {
    const id = JSON.stringify([table, match, take]);
    let index = this.cache.get(id);
    if (!index) {
      index = this.open({ table, match, take });
      this.cache.set(id, index);
    }
    return index;
  }

  /** Opens each of `specs` kept in the run now; returns the others, to build when a unit first needs them. */
  async openKept(specs: JoinSpec[]): Promise<JoinSpec[]> {
    const toBuild: JoinSpec[] = [];
    for (const join of specs) {
      const id = JSON.stringify([join.table, join.match, join.take]);
      if (this.cache.has(id)) continue;
      const index = this.rebuild ? undefined : await this.openIfKept(join);
      if (index) {
        this.cache.set(id, Promise.resolve(index));
      } else {
        this.notKept.add(id);
        toBuild.push(join);
      }
    }
    return toBuild;
  }

  private async openIfKept(join: JoinSpec): Promise<JoinIndex | undefined> {
    const kept = await fetchJoin(this.run, join, joinFingerprint(this.extract, join, this.input), this.log);
    if (!kept) return undefined;
    this.log(`join on ${join.table}.${join.match} → ${join.take}: ${kept.entries} keys, from the index kept in the run`);
    // Opened here: the descriptor must outlive the worker threads.
    return openJoinIndex(kept);
  }

  private async open(join: JoinSpec): Promise<JoinIndex> {
    const tried = this.rebuild || this.notKept.has(JSON.stringify([join.table, join.match, join.take]));
    const kept = tried ? undefined : await this.openIfKept(join);
    if (kept) return kept;
    const { table, match, take } = join;
    const built = await (this.workers ? this.workers.buildJoin(table, match, take) : buildJoin(this.run, this.extract, table, match, take, this.input));
    // Keeping it only spares other processes the build: a put that fails (a full disk, a
    // denied prefix) neither fails this transform nor leaves the built file behind.
    try {
      await keepJoin(this.run, join, joinFingerprint(this.extract, join, this.input), built);
      this.log(`join on ${table}.${match} → ${take}: ${built.entries} keys, built and kept in the run for other shards and reruns`);
    } catch (err) {
      if (this.mustKeep) {
        rmSync(path.dirname(built.path), { recursive: true, force: true });
        throw err;
      }
      this.log(`join on ${table}.${match} → ${take}: ${built.entries} keys, built but not kept in the run (${errorMessage(err)}): other processes build it again`);
    }
    return openJoinIndex(built);
  }

  /** Once no unit uses them any more. */
  async close(): Promise<void> {
    for (const index of await Promise.allSettled(this.cache.values())) if (index.status === 'fulfilled') index.value.close();
    this.cache.clear();
  }
}

/** The join indexes a unit's mapper needs, by join name (built once per run and shared with workers). */
export async function resolveJoins(unit: Unit, cache: JoinCache): Promise<Map<string, JoinIndex>> {
  const joins = new Map<string, JoinIndex>();
  for (const [name, join] of Object.entries(unit.mapping.mapper.mapper.joins ?? {})) joins.set(name, await cache.get(join.table, join.match, join.take));
  return joins;
}

