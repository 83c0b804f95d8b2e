// The single table, declared once (DESIGN.md "Item shape"): its key attributes,
// its index set and the TTL attribute. The table spec (table-spec.ts: CreateTable,
// ImportTable, CloudFormation), the item builder's attribute order and the
// entities' `indexes` all come from here, so adding a GSI is one line.

/** The table's own key: every item has both, strings (S). */
export const PRIMARY_KEY = { partition: 'PK', sort: 'SK' } as const;

/**
 * Global secondary indexes, in the order their key attributes follow the
 * table's in an item. Projection ALL. An entity names the ones it fills by
 * `name`; an item is in an index only when both its parts render.
 */
export const INDEXES = [
  { name: 'GSI1', partition: 'GSI1PK', sort: 'GSI1SK' },
  { name: 'GSI2', partition: 'GSI2PK', sort: 'GSI2SK' },
] as const;

export type IndexName = (typeof INDEXES)[number]['name'];

/** Where the item's expiry (epoch seconds) goes; TTL is enabled on it after import. */
export const TTL_ATTRIBUTE = 'ttl';

/** Every key attribute, table's first, in the order an item writes them. */
export const KEY_ATTRIBUTES: readonly string[] = [PRIMARY_KEY.partition, PRIMARY_KEY.sort, ...INDEXES.flatMap((i) => [i.partition, i.sort])];

/** The key attributes of the table (`table`) or of one of its indexes. */
export function keyAttributesOf(index: 'table' | IndexName): { partition: string; sort: string } {
  if (index === 'table') return PRIMARY_KEY;
  const found = INDEXES.find((i) => i.name === index);
  if (!found) throw new Error(`the table has no index ${index}: its indexes are ${INDEXES.map((i) => i.name).join(', ')}`);
  return found;
}
