// Item files of the run that no current unit produces: parts of an older
// split (the extract was redone with fewer parts), or of a table that is gone
// or now skipped. ImportTable imports every object under items/, and no unit
// would ever overwrite them, so each rerun used to trip over them for good.
import type { ExtractManifest } from '../lib/manifest.ts';
import type { Storage } from '../lib/storage.ts';
import type { TableMapping } from '../model/table-mapping.ts';
import { unitsOf, type UnitOptions } from './units.ts';
import { itemsKey } from '../lib/run-layout.ts';

/** Removes them and returns their keys; called as the manifest is written, which proves what the run's items are. */
export async function removeStaleItems(run: Storage, extract: ExtractManifest, mappings: TableMapping[], options: UnitOptions): Promise<string[]> {
  const current = new Set(mappings.flatMap((mapping) => unitsOf(mapping, extract, options, mappings).map((unit) => itemsKey(mapping.table.name, unit.index, options.compression))));
  const stale = (await run.list('items')).map((o) => o.key).filter((key) => !current.has(key));
  for (const key of stale) await run.delete(key);
  return stale;
}
