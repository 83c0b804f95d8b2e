// `plan`: what a transform run will hold and cost in DynamoDB, before anyone
// pays for it. Reads the transform manifest and (unless --sample 0) the item
// files, and builds one Plan: sizes per table, item collections, GSI key
// cardinality, the cost model and warnings. The renderers turn it into the
// terminal table, plan.json and plan.html. Deterministic: the same run and
// options give the same plan, byte for byte (no clock, no randomness).
import { UserError } from '../lib/errors.ts';
import type { Storage } from '../lib/storage.ts';
import { requireCurrentTransform } from '../lib/freshness.ts';
import { readTransformManifest, type TransformTable } from '../lib/transform-manifest.ts';
import { INDEXES } from '../model/table.ts';
import { keyWarnings, type KeySpaceSummary } from './collections.ts';
import { assumedDmsHours, costReport, type CostReport, type PriceTable, type TableCostInput, type Workload } from '../lib/cost-model.ts';
import { scanItems, type TableScan } from './item-scan.ts';
import { MAX_ITEM_BYTES, SizeHistogram, readUnits, writeUnits } from './sizes.ts';
import { TRANSFORM_MANIFEST_KEY } from '../lib/run-layout.ts';

export const PLAN_FORMAT = 'pg2ddb.plan/1';

/** How a table's item-derived figures were obtained. */
export type Figures = 'exact' | 'sampled' | 'estimated';

export interface TablePlan {
  name: string;
  entity_type?: string;
  rows_in: number;
  items: number;
  rejected: number;
  dropped: number;
  avg_item_bytes: number;
  /** Null when no item was read (--sample 0). */
  p99_item_bytes: number | null;
  max_item_bytes: number;
  /** Uncompressed DynamoDB JSON (what ImportTable bills). */
  raw_bytes: number;
  gzip_bytes: number;
  /** Σ item sizes by DynamoDB's rules. */
  ddb_bytes: number;
  /** WRUs of writing every item once (base table only) and RRUs of reading each once. */
  write_units: number;
  read_units: number;
  /** Items that appear in each GSI. */
  index_items: Record<string, number>;
  figures: Figures;
}

export interface Plan {
  format: typeof PLAN_FORMAT;
  run_id: string;
  as_of: string;
  ready_for_load: boolean;
  problems: string[];
  scan: { mode: 'full' | 'sample' | 'manifest'; fraction: number; items_read: number; items_analysed: number; max_keys: number };
  tables: TablePlan[];
  totals: Omit<TablePlan, 'name' | 'entity_type'>;
  /** Item collections: items sharing a PK (null when no item was read). */
  collections: KeySpaceSummary | null;
  /** GSI partition keys: cardinality and the largest share (empty when no item was read). */
  indexes: KeySpaceSummary[];
  cost: CostReport;
  warnings: string[];
}

export interface PlanOptions {
  runId: string;
  tables?: string[];
  /** Fraction of collections to read items of: 1 all, 0 none (manifest only). */
  sample: number;
  maxKeys: number;
  concurrency: number;
  region: string;
  prices: PriceTable;
  workload: Omit<Workload, 'dms_hours'> & { dms_hours?: number };
  log: (message: string) => void;
}

export async function makePlan(run: Storage, options: PlanOptions): Promise<Plan> {
  const manifest = await readTransformManifest(run);
  if (!manifest) throw new UserError(`no transform manifest at ${run.uri}/${TRANSFORM_MANIFEST_KEY}: run the transform stage for run ${options.runId} first`);
  const only = options.tables?.filter((t) => t !== '') ?? [];
  const unknown = only.filter((t) => !manifest.tables.some((m) => m.name === t));
  if (unknown.length > 0) throw new UserError(`no such table in the transform manifest: ${unknown.join(', ')}; the run has: ${manifest.tables.map((t) => t.name).join(', ')}`);
  const selected = manifest.tables.filter((t) => t.mapping !== 'skip' && (only.length === 0 || only.includes(t.name)));
  await requireCurrentTransform(run, options.runId, manifest, 'plan', only);
  if (!(options.sample >= 0 && options.sample <= 1)) throw new UserError(`invalid --sample ${options.sample}: use a fraction from 0 (manifest only) to 1 (every item)`);

  const mode = options.sample === 0 ? 'manifest' : options.sample === 1 ? 'full' : 'sample';
  let scanned: Awaited<ReturnType<typeof scanItems>> | undefined;
  if (mode !== 'manifest') {
    const parts = selected.reduce((n, t) => n + t.parts.length, 0);
    options.log(`reading ${parts} item files of ${selected.length} tables${mode === 'sample' ? ` (sampling ${(options.sample * 100).toFixed(1)}% of partition keys)` : ''}`);
    scanned = await scanItems(run, selected, { fraction: options.sample, maxKeys: options.maxKeys, concurrency: options.concurrency });
  }

  const tables = selected.map((t, i) => tablePlan(t, scanned?.tables[i]));
  const totalSizes = new SizeHistogram();
  for (const s of scanned?.tables ?? []) totalSizes.merge(s.sizes);
  const scale = mode === 'sample' ? 1 / options.sample : 1;
  const collections = scanned ? scanned.collections.summary(scale) : null;
  const indexes = scanned ? scanned.indexKeys.map((k) => k.summary(scale)) : [];

  const items = tables.reduce((n, t) => n + t.items, 0);
  const workload: Workload = { ...options.workload, dms_hours: options.workload.dms_hours ?? assumedDmsHours(items) };
  const cost = costReport(options.region, selected.map((t, i) => costInput(t, tables[i]!, scanned?.tables[i])), options.prices, workload);

  const warnings: string[] = [];
  if (!manifest.ready_for_load) warnings.push(`the run is not ready for load: ${manifest.problems.join('; ') || 'see the transform manifest'}`);
  if (only.length > 0) warnings.push(`only ${only.join(', ')}: collections and totals cover these tables, not the whole run`);
  if (mode === 'manifest') warnings.push('no item was read (--sample 0): p99, collections and GSI figures are missing and write units are estimated from average sizes, assuming every item is in every GSI');
  if (mode === 'sample') warnings.push(`items of ${(options.sample * 100).toFixed(1)}% of partition keys were read: counts are scaled, the largest collection is the largest among those read`);
  for (const t of tables) {
    if (t.max_item_bytes > MAX_ITEM_BYTES * 0.8) warnings.push(`${t.name}: the largest item is ${t.max_item_bytes} bytes, ${(t.max_item_bytes / MAX_ITEM_BYTES * 100).toFixed(0)}% of DynamoDB's 400 KB limit`);
  }
  if (collections) warnings.push(...keyWarnings(collections));
  for (const index of indexes) warnings.push(...keyWarnings(index));
  if (cost.monthly.savings_usd <= 0) warnings.push(`DynamoDB would cost $${cost.monthly.total_usd.toFixed(2)}/month, not less than the current $${cost.monthly.current_usd.toFixed(2)}`);

  const sum = (f: (t: TablePlan) => number) => tables.reduce((n, t) => n + f(t), 0);
  const ddbBytes = sum((t) => t.ddb_bytes);
  return {
    format: PLAN_FORMAT,
    run_id: manifest.run_id,
    as_of: manifest.as_of,
    ready_for_load: manifest.ready_for_load,
    problems: manifest.problems,
    scan: {
      mode, fraction: options.sample, max_keys: options.maxKeys,
      items_read: scanned?.tables.reduce((n, s) => n + s.read, 0) ?? 0,
      items_analysed: scanned?.tables.reduce((n, s) => n + s.analysed, 0) ?? 0,
    },
    tables,
    totals: {
      rows_in: sum((t) => t.rows_in), items, rejected: sum((t) => t.rejected), dropped: sum((t) => t.dropped),
      avg_item_bytes: items > 0 ? Math.round(ddbBytes / items) : 0,
      p99_item_bytes: scanned ? totalSizes.quantile(0.99) : null,
      max_item_bytes: Math.max(0, ...tables.map((t) => t.max_item_bytes)),
      raw_bytes: sum((t) => t.raw_bytes), gzip_bytes: sum((t) => t.gzip_bytes), ddb_bytes: ddbBytes,
      write_units: sum((t) => t.write_units), read_units: sum((t) => t.read_units),
      index_items: Object.fromEntries(INDEXES.map((ix) => [ix.name, sum((t) => t.index_items[ix.name] ?? 0)])),
      figures: tables.some((t) => t.figures === 'estimated') ? 'estimated' : tables.some((t) => t.figures === 'sampled') ? 'sampled' : 'exact',
    },
    collections,
    indexes,
    cost,
    warnings,
  };
}

/** Scales a sampled table's item-derived counts to all of its items. */
function scaleOf(table: TransformTable, scan: TableScan | undefined): number {
  if (!scan || scan.analysed === 0) return 0;
  return table.items_out / scan.analysed;
}

function tablePlan(table: TransformTable, scan: TableScan | undefined): TablePlan {
  const avg = table.items_out > 0 ? table.ddb_bytes / table.items_out : 0;
  const figures: Figures = !scan ? 'estimated' : scan.analysed === table.items_out ? 'exact' : 'sampled';
  const scale = scaleOf(table, scan);
  return {
    name: table.name,
    ...(table.entity_type ? { entity_type: table.entity_type } : {}),
    rows_in: table.rows_in,
    items: table.items_out,
    rejected: table.rejected,
    dropped: table.dropped,
    avg_item_bytes: Math.round(avg),
    p99_item_bytes: scan && scan.analysed > 0 ? scan.sizes.quantile(0.99) : null,
    max_item_bytes: table.max_item_bytes,
    raw_bytes: table.raw_bytes,
    gzip_bytes: table.bytes,
    ddb_bytes: table.ddb_bytes,
    write_units: scan && scan.analysed > 0 ? Math.round(scan.sizes.writeUnits * scale) : table.items_out * writeUnits(avg),
    read_units: scan && scan.analysed > 0 ? Math.round(scan.sizes.readUnits * scale) : table.items_out * readUnits(avg),
    index_items: Object.fromEntries(INDEXES.map((ix) => [ix.name, scan ? Math.round((scan.indexes[ix.name]?.items ?? 0) * scale) : table.items_out])),
    figures,
  };
}

function costInput(table: TransformTable, plan: TablePlan, scan: TableScan | undefined): TableCostInput {
  const scale = scaleOf(table, scan);
  return {
    name: table.name,
    items: table.items_out,
    raw_bytes: table.raw_bytes,
    ddb_bytes: table.ddb_bytes,
    write_units: plan.write_units,
    read_units: plan.read_units,
    indexes: INDEXES.map((ix) => {
      const usage = scan?.indexes[ix.name];
      // Without items: an upper bound, every item in every GSI at the average size.
      return usage
        ? { name: ix.name, items: Math.round(usage.items * scale), bytes: Math.round(usage.bytes * scale), write_units: Math.round(usage.write_units * scale) }
        : { name: ix.name, items: table.items_out, bytes: table.ddb_bytes, write_units: plan.write_units };
    }),
  };
}

export function planJson(plan: Plan): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}
