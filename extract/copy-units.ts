// What an extract copies: every selected table's parts (primary-key ranges),
// fixed once inside the snapshot. A sharded extract writes it to
// `extract/plan.json` so every shard copies from the same list: range
// boundaries are read from the snapshot, but the split decision and the
// byte estimates come from statistics that may change while shards run.
import { UserError } from '../lib/errors.ts';
import { readManifest, type ExtractManifest, type FollowEntry, type PartEntry } from '../lib/manifest.ts';
import type { Shard } from '../lib/shard.ts';
import { claimsOf, fragmentKeys, shardText } from '../lib/shard.ts';
import type { Storage } from '../lib/storage.ts';
import type { CatalogTable, SkippedRelation } from './catalog.ts';
import type { Snapshot } from './snapshot.ts';
import { MAX_RUN_PARTS, planRanges, planSplits, type KeyRange, type SplitOptions } from './split.ts';
import { EXTRACT_PLAN_KEY, EXTRACT_SHARDS_PREFIX } from '../lib/run-layout.ts';

// /2: tables carry their oid and whether they are partitioned (read ONLY or through the root); a /1 plan cannot say.
export const EXTRACT_PLAN_FORMAT = 'pg2ddb.extract-plan/2';
export const EXTRACT_SHARD_FORMAT = 'pg2ddb.extract-shard/1';

/** One COPY: part `index` of `of` of a table. `bytes` estimates its size, to balance workers and shards. */
export interface CopyUnit { table: string; index: number; of: number; range: KeyRange; bytes: number }

export interface ExtractPlan {
  format: typeof EXTRACT_PLAN_FORMAT;
  run_id: string;
  snapshot_id: string;
  as_of: string;
  server: ExtractManifest['server'];
  settings: Record<string, string>;
  /** split_rows and split_bytes as the plan was made with them (shards take its units, not their own flags). */
  options: ExtractManifest['options'] & { split_rows?: number; split_bytes?: number };
  /** Set when only these tables are copied (`TABLE=`): the manifest keeps the other tables' entries. */
  tables_selected?: string[];
  /** Relations of the selected schemas not copied, and why (absent when none). */
  skipped?: SkippedRelation[];
  /** FOLLOW=1: the slot whose snapshot this is (copied into the manifest). */
  follow?: FollowEntry;
  /** The run lock its maker holds (lib/run-lock.ts): a coordinator's, beside which its shards and finalize write. */
  lock?: string;
  tables: CatalogTable[];
  units: CopyUnit[];
}

/** A shard's record of the parts it copied: `extract/shards/shard-000i-of-000n.json`. */
export interface ExtractShardFragment {
  format: typeof EXTRACT_SHARD_FORMAT;
  run_id: string;
  snapshot_id: string;
  shard: string;
  parts: { table: string; index: number; part: PartEntry }[];
}

export const unitId = (unit: { table: string; index: number }) => `${unit.table}\n${String(unit.index).padStart(5, '0')}`;
export const unitName = (unit: CopyUnit) => (unit.of > 1 ? `${unit.table} part ${unit.index + 1}/${unit.of}` : unit.table);

/**
 * Each table's parts, read inside the snapshot: rows per part from the catalog's
 * estimates (split.ts planSplits), boundaries from the snapshot's rows. The same
 * snapshot and options give the same ranges.
 */
export async function planUnits(snapshot: Snapshot, tables: CatalogTable[], split: SplitOptions, log: (line: string) => void = () => {}): Promise<CopyUnit[]> {
  const { rowsPerPart, grownBy } = planSplits(tables, split);
  if (grownBy !== undefined) {
    log(`parts of ${Math.round(grownBy * 100) / 100}× the rows --split-rows/--split-bytes ask, so that the run's item files stay under one ImportTable's 50,000 objects (at most ${split.maxParts ?? MAX_RUN_PARTS} parts planned${split.keptParts ? `, ${split.keptParts} of them kept from tables this extract does not copy` : ''})`);
  }
  const units: CopyUnit[] = [];
  for (const table of tables) {
    const ranges = await planRanges(snapshot.client, table, rowsPerPart.get(table.name));
    ranges.forEach((range, index) => units.push({ table: table.name, index, of: ranges.length, range, bytes: Math.round(table.size_bytes / ranges.length) }));
  }
  return units;
}

export async function readPlan(run: Storage): Promise<ExtractPlan> {
  const plan = await readManifest<ExtractPlan>(run, EXTRACT_PLAN_KEY, EXTRACT_PLAN_FORMAT);
  if (!plan) {
    throw new UserError(`no extract plan at ${run.uri}/${EXTRACT_PLAN_KEY}: start the coordinator first (extract snapshot --hold, with the same --store and --run)`);
  }
  return plan;
}

export function fragmentText(run: string, plan: ExtractPlan, shard: Shard, parts: ExtractShardFragment['parts']): string {
  const fragment: ExtractShardFragment = { format: EXTRACT_SHARD_FORMAT, run_id: run, snapshot_id: plan.snapshot_id, shard: shardText(shard), parts };
  return `${JSON.stringify(fragment, null, 2)}\n`;
}

/**
 * Every plan unit's part, from the shards' fragments of this plan's snapshot:
 * each unit exactly once, or an error naming what is missing or doubled.
 */
export async function collectFragments(run: Storage, plan: ExtractPlan): Promise<Map<string, PartEntry>> {
  const fragments: { shard: string; entries: ExtractShardFragment['parts'] }[] = [];
  let stale = 0;
  for (const key of await fragmentKeys(run, EXTRACT_SHARDS_PREFIX)) {
    const fragment = await readManifest<ExtractShardFragment>(run, key, EXTRACT_SHARD_FORMAT);
    if (!fragment) continue;
    // A fragment of an earlier coordinator's snapshot describes other bytes: not this plan's.
    if (fragment.snapshot_id !== plan.snapshot_id) { stale++; continue; }
    fragments.push({ shard: fragment.shard, entries: fragment.parts });
  }
  const { first: found, doubled } = claimsOf(fragments, unitId, ({ table, index }) => `${table} part ${index}`);
  const missing = plan.units.filter((u) => !found.has(unitId(u))).map(unitName);
  if (doubled.length > 0) {
    throw new UserError(`extract shards of run ${plan.run_id} copied some parts twice: ${doubled.join('; ')}; remove the fragments of the shard count you abandoned from ${run.uri}/${EXTRACT_SHARDS_PREFIX}/ and finalize again`);
  }
  if (missing.length > 0) {
    throw new UserError(`extract of run ${plan.run_id} is not complete: ${missing.length} of ${plan.units.length} part(s) have no shard fragment (${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''})${stale > 0 ? `; ${stale} fragment(s) belong to another snapshot` : ''}; rerun the shard(s) that did not finish`);
  }
  return new Map([...found].map(([id, { entry }]) => [id, entry.part]));
}
