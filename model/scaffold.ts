// A starting entity file for a source table (make scaffold MODEL=dir): the
// generic keys (`<TABLE>#{primary key}` / `ROW`) and every column listed with
// its PostgreSQL type, for the user to edit into their own design. The file
// needs nothing from the toolkit at run time (its one import is a type).
import type { ColumnSchema } from '../lib/manifest.ts';
import { tableKeyLabel } from './template.ts';

export interface ScaffoldTable {
  name: string;
  columns: Pick<ColumnSchema, 'name' | 'type'>[];
  primary_key: string[];
}

const PLACEHOLDER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The entity file's name for a table (`users.ts`, `audit.events.ts`): a `/` or
 * `\\` is percent-encoded as qualified names encode `.` and `%`, so no two
 * tables share a file; a name ending `.test` gets `.entity.ts` (`audit.test` →
 * `audit.test.entity.ts`), as the registry skips `*.test.ts` files.
 */
export function entityFileName(table: string): string {
  const base = table.replace(/\//g, '%2F').replace(/\\/g, '%5C');
  return base.endsWith('.test') ? `${base}.entity.ts` : `${base}.ts`;
}

/** The text of `<table>.ts`; `entityModule` is the absolute path of model/entity.ts (for the Mapper type). */
export function entityFileText(table: ScaffoldTable, entityModule: string): string {
  const label = tableKeyLabel(table.name);
  const keyColumns = table.primary_key.length > 0 ? table.primary_key : table.columns.slice(0, 1).map((c) => c.name);
  // A column whose name cannot be a `{name}` placeholder is given one by a computed value.
  const computed = keyColumns.map((c, i) => (PLACEHOLDER.test(c) ? undefined : [`pk${i}`, c] as const)).filter((c) => c !== undefined);
  const pk = `${label}#${keyColumns.map((c, i) => `{${PLACEHOLDER.test(c) ? c : `pk${i}`}}`).join('#')}`;
  const width = Math.max(...table.columns.map((c) => c.name.length));
  const lines = [
    `// Entity for source table ${table.name}, as make scaffold wrote it: generic keys to start from.`,
    '// Edit the keys; add indexes (GSI1, GSI2: model/table.ts), a ttl column, computed values, joins',
    '// and access patterns (see the toolkit\'s model/entities/ and model/entity.ts).',
    '// Columns, in order, with their PostgreSQL types (every one goes into the item\'s `data`):',
    ...table.columns.map((c) => `//   ${c.name.padEnd(width)}  ${c.type}${table.primary_key.includes(c.name) ? '  (primary key)' : ''}`),
    ...(table.primary_key.length === 0 ? [`// ${table.name} has no primary key: choose columns that identify a row for the key.`] : []),
    `import type { Mapper } from ${JSON.stringify(entityModule)};`,
    '',
    'export default {',
    `  table: ${JSON.stringify(table.name)},`,
    `  entityType: ${JSON.stringify(table.name)},`,
    `  key: { pk: ${JSON.stringify(pk)}, sk: 'ROW' },`,
    ...(computed.length > 0 ? [`  computed: { ${computed.map(([n, c]) => `${n}: (row) => row(${JSON.stringify(c)})`).join(', ')} },`] : []),
    '} satisfies Mapper;',
    '',
  ];
  return lines.join('\n');
}
