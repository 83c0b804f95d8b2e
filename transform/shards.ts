// A sharded transform (issue 9): shard i of n runs its byte-balanced share of
// the units and records them in `transform/shards/shard-000i-of-000n.json`;
// finalize checks that the fragments cover every unit exactly once, then
// assembles the manifest from the unit records, as an unsharded run does.
import { UserError } from '../lib/errors.ts';
import { readManifest } from '../lib/manifest.ts';
import { assignShards, claimsOf, fragmentKeys, mapShardCount, shardText, unitsOfShard, type Shard } from '../lib/shard.ts';
import type { Storage } from '../lib/storage.ts';
import { type Unit } from './units.ts';
import { partName, TRANSFORM_SHARDS_PREFIX, transformFragmentKey } from '../lib/run-layout.ts';

export const TRANSFORM_SHARD_FORMAT = 'pg2ddb.transform-shard/1';

export interface TransformShardFragment {
  format: typeof TRANSFORM_SHARD_FORMAT;
  run_id: string;
  shard: string;
  /** Wall-clock span of the shard (for the run report; not part of any output). */
  started_at: string;
  finished_at: string;
  units: { table: string; index: number; fingerprint: string }[];
}

const unitBytes = (unit: Unit) => unit.part.raw_bytes;
const unitId = (unit: Unit) => `${unit.mapping.table.name}\n${partName(unit.index)}`;
const unitLabel = (unit: { table: string; index: number }) => `${unit.table}/${partName(unit.index)}`;

/** The units shard `shard` does (all of them without a shard), balanced by the extract part's uncompressed bytes. */
export function shardUnits(units: Unit[], shard: Shard | undefined): Unit[] {
  return unitsOfShard(units, shard, unitBytes, unitId);
}

export async function writeFragment(run: Storage, runId: string, shard: Shard, units: Unit[], startedAt: Date): Promise<void> {
  const fragment: TransformShardFragment = {
    format: TRANSFORM_SHARD_FORMAT,
    run_id: runId,
    shard: shardText(shard),
    started_at: startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    units: units.map((u) => ({ table: u.mapping.table.name, index: u.index, fingerprint: u.fingerprint })),
  };
  await run.put(transformFragmentKey(shard), `${JSON.stringify(fragment, null, 2)}\n`);
}

/**
 * Checks that the fragments hold every unit of the run exactly once (entries
 * for another fingerprint are from an earlier extract, mapper or option set,
 * and are ignored) and returns the span the shards ran in.
 */
export async function checkFragments(run: Storage, units: Unit[]): Promise<{ shards: number; started_at?: string; finished_at?: string }> {
  const keys = await fragmentKeys(run, TRANSFORM_SHARDS_PREFIX);
  if (keys.length === 0) throw new UserError(`no transform shard fragments under ${run.uri}/${TRANSFORM_SHARDS_PREFIX}/: run transform --shard i/n first (or transform without --shard, which needs no finalize)`);
  const current = new Map(units.map((u) => [unitId(u), u]));
  const fragments: { shard: string; entries: TransformShardFragment['units'] }[] = [];
  let started: string | undefined;
  let finished: string | undefined;
  for (const key of keys) {
    const fragment = await readManifest<TransformShardFragment>(run, key, TRANSFORM_SHARD_FORMAT);
    if (!fragment) continue;
    if (!started || fragment.started_at < started) started = fragment.started_at;
    if (!finished || fragment.finished_at > finished) finished = fragment.finished_at;
    fragments.push({ shard: fragment.shard, entries: fragment.units });
  }
  const { first: seen, doubled } = claimsOf(fragments, (entry) => {
    const id = `${entry.table}\n${partName(entry.index)}`;
    return current.get(id)?.fingerprint === entry.fingerprint ? id : undefined;
  }, unitLabel);
  if (doubled.length > 0) {
    throw new UserError(`transform shards did some units twice: ${doubled.slice(0, 10).join('; ')}; remove the fragments of the shard count you abandoned from ${run.uri}/${TRANSFORM_SHARDS_PREFIX}/ and finalize again`);
  }
  const missing = units.filter((u) => !seen.has(unitId(u)));
  if (missing.length > 0) {
    const labels = missing.map((u) => unitLabel({ table: u.mapping.table.name, index: u.index }));
    throw new UserError(`transform of run is not complete: ${missing.length} of ${units.length} unit(s) are in no shard's fragment (${labels.slice(0, 10).join(', ')}${labels.length > 10 ? ', …' : ''}); rerun the shard(s) that did not finish`);
  }
  return { shards: keys.length, started_at: started, finished_at: finished };
}

/**
 * `transform/units.json`: one entry per shard k/n of the run, the item list of
 * a map over units. n is the number of units up to MAX_SHARDS (so each child
 * does one unit), or `shards` when given; past that each child does a group
 * of units, balanced by bytes as `--shard` balances them, so any run maps.
 */
export function unitsListing(units: Unit[], shards?: number): string {
  const count = mapShardCount(units.length, shards);
  const entries = assignShards(units, count, unitBytes, unitId).map((mine, k) => ({
    shard: `${k + 1}/${count}`,
    bytes: mine.reduce((n, u) => n + unitBytes(u), 0),
    units: mine.map((u) => ({ table: u.mapping.table.name, part: u.index, bytes: unitBytes(u) })),
  }));
  return `${JSON.stringify(entries, null, 2)}\n`;
}
