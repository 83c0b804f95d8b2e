// `transform --dry-run`: the units a transform would do and skip (done and
// current, as runner.ts judges them), read from the store; nothing written.
import { doneUnits, openContext, type TransformOptions } from './runner.ts';

export interface TransformDryRun {
  dry_run: true;
  run: string;
  store: string;
  /** Per table: its units to do and to skip, and the rows the units to do read (exact: the extract manifest's). */
  tables: { name: string; mapping: string; units: number; to_do: number; to_skip: number; rows_to_do: number }[];
  /** Tables no mapper covers, skipped with --unmapped skip (counted as dropped). */
  unmapped_skipped: string[];
  totals: { units: number; to_do: number; to_skip: number; rows_to_do: number };
}

export async function dryRunTransform(options: TransformOptions): Promise<TransformDryRun> {
  const context = await openContext(options);
  const done = options.force ? new Set() : await doneUnits(context.run, context.units);
  const tables = new Map<string, TransformDryRun['tables'][number]>();
  for (const unit of context.units) {
    const name = unit.mapping.table.name;
    const t = tables.get(name) ?? { name, mapping: unit.mapping.mapping, units: 0, to_do: 0, to_skip: 0, rows_to_do: 0 };
    t.units++;
    if (done.has(unit)) t.to_skip++;
    else { t.to_do++; t.rows_to_do += unit.part.rows; }
    tables.set(name, t);
  }
  const list = [...tables.values()];
  const selected = new Set(options.tables ?? []);
  return {
    dry_run: true, run: options.run, store: context.run.uri, tables: list,
    unmapped_skipped: context.mappings.filter((p) => p.mapping === 'skip' && (selected.size === 0 || selected.has(p.table.name))).map((p) => p.table.name),
    totals: {
      units: context.units.length, to_do: list.reduce((n, t) => n + t.to_do, 0),
      to_skip: list.reduce((n, t) => n + t.to_skip, 0), rows_to_do: list.reduce((n, t) => n + t.rows_to_do, 0),
    },
  };
}

export function describeTransformDryRun(dryRun: TransformDryRun): string[] {
  const { totals } = dryRun;
  const lines = [`dry run, nothing written: ${totals.units} unit(s) of ${dryRun.tables.length} table(s) in ${dryRun.store}: ${totals.to_do} to do, ${totals.to_skip} done and skipped`];
  for (const t of dryRun.tables) lines.push(`  ${t.name}${t.mapping === 'generic' ? ' (generic)' : ''}: ${t.to_do} to do (${t.rows_to_do} rows), ${t.to_skip} to skip`);
  if (dryRun.unmapped_skipped.length > 0) lines.push(`  no mapper, skipped: ${dryRun.unmapped_skipped.join(', ')}`);
  lines.push(`  total: ${totals.rows_to_do} rows to transform`);
  return lines;
}
