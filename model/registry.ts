// Finds the entities (mappers): every file in model/entities/ default-exports
// one, so adding a table is adding one file. A mapper's hash covers its own source and
// the transform code version, so a changed mapper redoes only its table.
import { statSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { sha256Hex } from '../lib/meter.ts';
import { UserError } from '../lib/errors.ts';
import type { TableEntry } from '../lib/manifest.ts';
import type { Mapper } from './entity.ts';

/** Bump when decoding or encoding changes what any mapper produces. */
export const TRANSFORM_CODE_VERSION = 2;

/** The shipped model's entities (Serenya's). */
export const ENTITIES_DIR = fileURLToPath(new URL('./entities/', import.meta.url));
const COMPUTED_FILE = fileURLToPath(new URL('./computed.ts', import.meta.url));

export interface LoadedMapper {
  mapper: Mapper;
  /** sha256 of the mapper's file, the shared computed values and the code version. */
  hash: string;
  file: string;
}

/** The CLIs' `--model dir` (MODEL=dir): a user's own entity directory, absolute; undefined keeps the shipped model. */
export function modelDir(dir: string | undefined): string | undefined {
  if (!dir) return undefined;
  const full = path.resolve(dir);
  if (!statSync(full, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UserError(`--model ${dir}: no such directory; give a directory of entity files (one per table, as model/entities/), or make scaffold MODEL=${dir} to start one`);
  }
  return full;
}

/** The `--model` option of the CLIs that map rows (transform, verify). */
export const MODEL_OPTION = {
  type: 'string',
  default: process.env.MODEL || undefined,
  defaultDescription: '$MODEL, else the shipped model (model/entities/)',
  describe: 'A directory of entity files (one per table, as model/entities/) to use instead of the shipped model',
} as const;

/** How messages name an entity directory: `model/entities/` for the shipped one. */
export function entitiesLabel(dir = ENTITIES_DIR): string {
  return dir === ENTITIES_DIR ? 'model/entities/' : dir.endsWith('/') ? dir : `${dir}/`;
}

/** The entity files of `dir`, as the registry and the worker bundle both list them. */
export function isEntityFile(file: string): boolean {
  return file.endsWith('.ts') && !file.endsWith('.test.ts');
}

export async function loadMappers(dir = ENTITIES_DIR): Promise<Map<string, LoadedMapper>> {
  const shared = await readFile(COMPUTED_FILE, 'utf8');
  const files = (await readdir(dir)).filter(isEntityFile).sort();
  const mappers = new Map<string, LoadedMapper>();
  for (const file of files) {
    const full = path.join(dir, file);
    const mapper = (await import(pathToFileURL(full).href)).default as Mapper | undefined;
    if (!mapper || typeof mapper.table !== 'string' || !mapper.key) {
      throw new Error(`${path.relative(process.cwd(), full)} does not default-export a mapper (defineMapper({...}))`);
    }
    if (mappers.has(mapper.table)) throw new Error(`two mappers for table ${mapper.table}: ${mappers.get(mapper.table)!.file} and ${file}`);
    const source = await readFile(full, 'utf8');
    mappers.set(mapper.table, { mapper, hash: sha256Hex(`${TRANSFORM_CODE_VERSION}\n${source}\n${shared}`), file });
  }
  return mappers;
}

/**
 * The `generic` mapping for a table no mapper covers: PK `<TABLE>#<primary key
 * values>`, SK `<TABLE>`, entity_type the table name. Needs a primary key.
 */
export function genericMapper(table: TableEntry): LoadedMapper {
  const label = table.name.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
  const mapper: Mapper = {
    table: table.name,
    entityType: table.name,
    key: { pk: `${label}#${table.primary_key.map((c, i) => `{pk${i}}`).join('#')}`, sk: label },
    computed: Object.fromEntries(table.primary_key.map((c, i) => [`pk${i}`, (row) => row(c)])),
  };
  return { mapper, hash: sha256Hex(`${TRANSFORM_CODE_VERSION}\ngeneric\n${label}\n${table.primary_key.join(',')}`), file: '(generic)' };
}
