// What a transform run will do: each table's mapping (mapper, generic or skip)
// and its units of work (table × extract part) with their fingerprints, plus
// where every unit's outputs live. Shared by the runner and its worker threads.
import { UserError } from '../lib/errors.ts';
import { inputPart, type ExtractManifest, type PartEntry, type TableEntry, type TransformInput } from '../lib/manifest.ts';
import { sha256Hex } from '../lib/meter.ts';
import { tableSegment } from '../lib/run-layout.ts';
import type { Storage } from '../lib/storage.ts';
import type { ItemPart } from '../lib/transform-manifest.ts';
import { compressionSuffix, type Compression } from '../lib/compression.ts';
import { LINE_ORDER } from './item-order.ts';
import { entitiesLabel, genericMapper, loadMappers, type LoadedMapper } from '../model/registry.ts';

export type Unmapped = 'fail' | 'skip' | 'generic';

/** The options that decide a unit's bytes (so they are part of its fingerprint). */
export interface UnitOptions {
  gzipLevel: number;
  /** Item files' compression (default gzip). */
  compression?: Compression;
  unmapped: Unmapped;
  dropExpired: boolean;
  /** The file of each part to read (`--input`); unset, the part's own file (the CSV of a `--format both` extract). */
  input?: TransformInput;
}

export interface Plan { table: TableEntry; mapping: 'mapper' | 'generic' | 'skip'; mapper?: LoadedMapper }

export interface Unit {
  plan: Plan & { mapper: LoadedMapper };
  part: PartEntry;
  index: number;
  fingerprint: string;
}

/** What a finished unit leaves under transform/units/: its manifest entry and where its side files are. */
export interface UnitRecord {
  fingerprint: string;
  table: string;
  part: ItemPart;
  warnings: Record<string, number>;
  max_item_bytes: number;
  rejects_key: string;
  keys_key: string;
}

export const partName = (index: number) => `part-${String(index).padStart(5, '0')}`;
export const itemsKey = (table: string, index: number, compression: Compression = 'gzip') =>
  `items/${tableSegment(table)}/${partName(index)}.json${compressionSuffix(compression)}`;
export const unitKey = (table: string, index: number) => `transform/units/${tableSegment(table)}/${partName(index)}.json`;
// A unit's side files sit beside its record; rejects/<table>.jsonl gathers a table's rejects.
export const rejectsKey = (table: string, index: number) => `transform/units/${tableSegment(table)}/${partName(index)}.rejects.jsonl`;
export const keysKey = (table: string, index: number) => `transform/units/${tableSegment(table)}/${partName(index)}.keys`;

/** `entities`: the model's entity directory (default: the shipped model/entities/). */
export async function planTables(extract: ExtractManifest, unmapped: Unmapped, entities?: string): Promise<Plan[]> {
  const mappers = await loadMappers(entities);
  const where = entitiesLabel(entities);
  const missing: string[] = [];
  const plans = extract.tables.map((table): Plan => {
    const mapper = mappers.get(table.name);
    if (mapper) return { table, mapping: 'mapper', mapper };
    if (unmapped === 'skip') return { table, mapping: 'skip' };
    if (unmapped === 'generic' && table.primary_key.length > 0) return { table, mapping: 'generic', mapper: genericMapper(table) };
    missing.push(table.name);
    return { table, mapping: 'skip' };
  });
  if (missing.length > 0) {
    throw new UserError(unmapped === 'generic'
      ? `the generic mapping needs a primary key, which these tables lack: ${missing.join(', ')}; add a mapper in ${where} for each`
      : `no mapper for table(s): ${missing.join(', ')}; add ${where}<table>.ts for each, or pass --unmapped skip or --unmapped generic`);
  }
  checkEntityTypes(plans, where);
  return plans;
}

/**
 * One entity type per table: verify counts items per entity_type and prune
 * scans by it, so two tables sharing one would have their items counted and
 * deleted as each other's. The generic mapping names its entity after the
 * table, so a table `user` collides with the users mapper's `user`. The plans
 * hold every table of the extract, so a TABLE= rerun is checked against the
 * run's other tables too.
 */
export function checkEntityTypes(plans: Plan[], where = entitiesLabel()): void {
  const owner = new Map<string, Plan>();
  for (const plan of plans) {
    if (!plan.mapper) continue;
    const type = plan.mapper.mapper.entityType;
    const first = owner.get(type);
    if (!first) {
      owner.set(type, plan);
      continue;
    }
    const describe = (p: Plan) => `${p.table.name} (${p.mapping === 'generic' ? 'generic mapping' : `${where}${p.mapper!.file}`})`;
    const generic = [first, plan].find((p) => p.mapping === 'generic');
    throw new UserError(`tables ${describe(first)} and ${describe(plan)} both have entity_type ${JSON.stringify(type)}, ` +
      'so verify and load --prune could not tell their items apart: ' +
      (generic
        ? `add ${where}${generic.table.name}.ts with another entityType, or pass --unmapped skip`
        : `give one of them another entityType in its mapper`));
  }
}

export function selectPlans(plans: Plan[], tables: string[] | undefined): Plan[] {
  if (!tables || tables.length === 0) return plans;
  const unknown = tables.filter((t) => !plans.some((p) => p.table.name === t));
  if (unknown.length > 0) {
    throw new UserError(`no such table in the extract: ${unknown.map((t) => JSON.stringify(t)).join(', ')}; the run has: ${plans.map((p) => p.table.name).join(', ')}`);
  }
  return plans.filter((p) => tables.includes(p.table.name));
}

export function unitsOf(plan: Plan, extract: ExtractManifest, options: UnitOptions, plans: Plan[]): Unit[] {
  if (!plan.mapper) return [];
  const joined = Object.values(plan.mapper.mapper.joins ?? {}).map((join) => {
    const other = plans.find((p) => p.table.name === join.table);
    if (!other) throw new UserError(`mapper ${plan.table.name} joins table ${join.table}, which the extract does not hold`);
    return other.table.parts.map((p) => p.sha256).join(',');
  });
  return plan.table.parts.map((entry) => inputPart(entry, options.input)).map((part, index) => ({
    plan: plan as Plan & { mapper: LoadedMapper },
    part,
    index,
    fingerprint: sha256Hex(JSON.stringify({
      input: part.sha256,
      columns: plan.table.columns,
      mapper: plan.mapper!.hash,
      joined,
      gzip_level: options.gzipLevel,
      // Only when not gzip, so gzip units keep their fingerprints (and golden files their bytes).
      ...(options.compression && options.compression !== 'gzip' ? { compression: options.compression } : {}),
      line_order: LINE_ORDER,
      drop_expired: options.dropExpired ? extract.as_of : false,
    })),
  }));
}

export async function readRecord(run: Storage, table: string, index: number): Promise<UnitRecord | undefined> {
  const text = await run.getText(unitKey(table, index));
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as UnitRecord;
  } catch {
    return undefined;
  }
}

