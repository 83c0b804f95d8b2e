// Which entity maps each table of an extract: its mapper, the generic
// mapping, or none (skipped). The transform and catchup both map a run's
// tables this way, so they can never disagree on a table's entity.
import { UserError, errorMessage } from '../lib/errors.ts';
import type { ExtractManifest, TableEntry } from '../lib/manifest.ts';
import { ItemBuilder } from './item.ts';
import { entitiesLabel, genericMapper, loadMappers, type LoadedMapper } from './registry.ts';

export type Unmapped = 'fail' | 'skip' | 'generic';

export interface TableMapping { table: TableEntry; mapping: 'mapper' | 'generic' | 'skip'; mapper?: LoadedMapper }

/** `entities`: the model's entity directory (default: the shipped model/entities/). */
export async function mapTables(extract: ExtractManifest, unmapped: Unmapped, entities?: string): Promise<TableMapping[]> {
  const mappers = await loadMappers(entities);
  const where = entitiesLabel(entities);
  const missing: string[] = [];
  const mappings = extract.tables.map((table): TableMapping => {
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
  checkEntityTypes(mappings, where);
  // What a mapper asks of its table (columns, a ttl's type), checked now: else transform finds it only when the
  // table's units run (after join indexes and the other tables), catchup and verify as an internal error.
  for (const { table, mapping, mapper } of mappings) {
    if (mapping !== 'mapper') continue;
    try {
      new ItemBuilder(mapper!.mapper, table, new Map());
    } catch (err) {
      throw new UserError(`${where}${mapper!.file}: ${errorMessage(err)}`);
    }
  }
  return mappings;
}

/**
 * One entity type per table: verify counts items per entity_type and prune
 * scans by it, so two tables sharing one would have their items counted and
 * deleted as each other's. The generic mapping names its entity after the
 * table, so a table `user` collides with the users mapper's `user`. The mappings
 * hold every table of the extract, so a TABLE= rerun is checked against the
 * run's other tables too.
 */
export function checkEntityTypes(mappings: TableMapping[], where = entitiesLabel()): void {
  const owner = new Map<string, TableMapping>();
  for (const entry of mappings) {
    if (!entry.mapper) continue;
    const type = entry.mapper.mapper.entityType;
    const first = owner.get(type);
    if (!first) {
      owner.set(type, entry);
      continue;
    }
    const describe = (p: TableMapping) => `${p.table.name} (${p.mapping === 'generic' ? 'generic mapping' : `${where}${p.mapper!.file}`})`;
    const generic = [first, entry].find((p) => p.mapping === 'generic');
    throw new UserError(`tables ${describe(first)} and ${describe(entry)} both have entity_type ${JSON.stringify(type)}, ` +
      'so verify and load --prune could not tell their items apart: ' +
      (generic
        ? `add ${where}${generic.table.name}.ts with another entityType, or pass --unmapped skip`
        : `give one of them another entityType in its mapper`));
  }
}

export function selectMappings(mappings: TableMapping[], tables: string[] | undefined): TableMapping[] {
  if (!tables || tables.length === 0) return mappings;
  const unknown = tables.filter((t) => !mappings.some((p) => p.table.name === t));
  if (unknown.length > 0) {
    throw new UserError(`no such table in the extract: ${unknown.map((t) => JSON.stringify(t)).join(', ')}; the run has: ${mappings.map((p) => p.table.name).join(', ')}`);
  }
  return mappings.filter((p) => tables.includes(p.table.name));
}
