// Is what a later stage reads still current? A transform is current when every
// table it holds was made from the extract parts (and joined tables) the
// extract manifest lists now. A `TABLE=users` re-extract without a transform
// leaves the items of users stale: load, verify, plan and report refuse them
// rather than load or bless the old rows.
import { UserError } from './errors.ts';
import { sha256Hex } from './meter.ts';
import { tableWord } from './output.ts';
import { type ExtractManifest, type TableEntry } from './manifest.ts';
import type { Storage } from './storage.ts';
import type { TransformManifest, TransformTable } from './transform-manifest.ts';
import { EXTRACT_MANIFEST_KEY } from './run-layout.ts';

export interface StaleTable {
  table: string;
  reason: string;
  /** No longer in the extract: only a whole transform drops it (a `TABLE=` one refuses a table the extract lacks). */
  gone?: boolean;
}

/** What a joined table contributes to a unit: its parts as the extract stored them (transform/units.ts fingerprints the same). */
export function joinedInputDigest(table: TableEntry): string {
  return sha256Hex(table.parts.map((p) => p.sha256).join(','));
}

/**
 * The tables of `transform` (all, or `only`) that no longer match `extract`,
 * with why. Tables the extract holds and the transform does not are stale too:
 * loading without them would lose their rows silently.
 */
export function staleTables(extract: ExtractManifest, extractText: string, transform: TransformManifest, only?: string[]): StaleTable[] {
  if (sha256Hex(extractText) === transform.extract_manifest_sha256) return [];
  const selected = (name: string) => !only || only.length === 0 || only.includes(name);
  const byName = new Map(extract.tables.map((t) => [t.name, t]));
  const stale: StaleTable[] = [];
  for (const table of transform.tables) {
    if (!selected(table.name) || table.mapping === 'skip') continue;
    const reason = staleReason(table, byName);
    if (reason) stale.push({ table: table.name, reason, ...(byName.has(table.name) ? {} : { gone: true }) });
  }
  const transformed = new Set(transform.tables.map((t) => t.name));
  for (const table of extract.tables) {
    if (selected(table.name) && !transformed.has(table.name)) stale.push({ table: table.name, reason: 'extracted after the transform ran' });
  }
  return stale;
}

function staleReason(table: TransformTable, extract: Map<string, TableEntry>): string | undefined {
  const source = extract.get(table.name);
  if (!source) return 'no longer in the extract manifest';
  if (source.parts.length !== table.parts.length) {
    return `the extract has ${source.parts.length} part(s), the transform was made from ${table.parts.length}`;
  }
  for (const [i, part] of table.parts.entries()) {
    const now = source.parts[i]!;
    if (part.input_sha256 !== now.sha256 && part.input_sha256 !== now.parquet?.sha256) return `${now.key} changed since the transform read it`;
  }
  for (const [name, digest] of Object.entries(table.joined ?? {})) {
    const other = extract.get(name);
    if (!other) return `its joined table ${name} is no longer in the extract manifest`;
    if (joinedInputDigest(other) !== digest) return `its joined table ${name} was extracted again since the transform read it`;
  }
  return undefined;
}

/**
 * Refuses a stale transform with the tables, why, and the command that fixes
 * it. `stage` names the refusing stage in the message.
 */
export async function requireCurrentTransform(
  run: Storage, runId: string, transform: TransformManifest, stage: string, only?: string[],
): Promise<void> {
  const text = await run.getText(EXTRACT_MANIFEST_KEY);
  if (text === undefined) {
    throw new UserError(`${stage}: no extract manifest at ${run.uri}/${EXTRACT_MANIFEST_KEY}, so run ${runId}'s transform cannot be shown current; copy the run's extract/ folder with its items/ and transform/`);
  }
  let extract: ExtractManifest;
  try {
    extract = JSON.parse(text) as ExtractManifest;
  } catch {
    throw new UserError(`${stage}: ${run.uri}/${EXTRACT_MANIFEST_KEY} is not valid JSON`);
  }
  const stale = staleTables(extract, text, transform, only);
  if (stale.length === 0) return;
  const scope = stale.some((s) => s.gone) ? '' : ` ${tableWord(stale.map((s) => s.table))}`;
  throw new UserError(
    `${stage}: run ${runId}'s transform is stale for ${stale.map((s) => `${s.table} (${s.reason})`).join('; ')}: ` +
    `run \`make transform RUN=${runId}${scope}\`, then this command again`,
  );
}
