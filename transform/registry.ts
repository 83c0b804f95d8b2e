// Finds the mappers: every file in transform/mappers/ default-exports one, so
// adding a table is adding one file. A mapper's hash covers its own file (its
// source, or from the build its bundle's sha256 in dist/build.json) and the
// transform code version (code-version.ts), so a changed mapper redoes only its table.
import { readFile, readdir } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { sha256Hex } from '../lib/meter.ts';
import type { TableEntry } from '../lib/manifest.ts';
import { DIST_DIR, FROM_BUILD, PACKAGE_ROOT } from '../lib/runtime.ts';
import { buildInfo, transformCodeVersion } from './code-version.ts';
import type { Mapper } from './mapper.ts';
import { MAPPERS_SOURCE_DIR } from './worker-bundle.ts';

const MAPPERS_DIR = path.join(FROM_BUILD ? DIST_DIR : PACKAGE_ROOT, MAPPERS_SOURCE_DIR);

export interface LoadedMapper {
  mapper: Mapper;
  /** sha256 of the transform code version and the mapper's file. */
  hash: string;
  /** Its source's name (`users.ts`), from the build too. */
  file: string;
}

export async function loadMappers(dir = MAPPERS_DIR): Promise<Map<string, LoadedMapper>> {
  const ext = FROM_BUILD ? '.js' : '.ts';
  // From the build, the mappers it made: dist/ keeps a removed mapper's file a minute for runs still on the last build.
  const files = FROM_BUILD && dir === MAPPERS_DIR
    ? Object.keys(buildInfo().mappers).map((f) => f.replace(/\.ts$/, ext))
    : (await readdir(dir)).filter((f) => f.endsWith(ext) && !f.endsWith(`.test${ext}`)).sort();
  const mappers = new Map<string, LoadedMapper>();
  for (const built of files) {
    const full = path.join(dir, built);
    const file = built.slice(0, -ext.length) + '.ts';
    const mapper = (await import(pathToFileURL(full).href)).default as Mapper | undefined;
    if (!mapper || typeof mapper.table !== 'string' || !mapper.key) {
      throw new Error(`${path.relative(process.cwd(), full)} does not default-export a mapper (defineMapper({...}))`);
    }
    if (mappers.has(mapper.table)) throw new Error(`two mappers for table ${mapper.table}: ${mappers.get(mapper.table)!.file} and ${file}`);
    mappers.set(mapper.table, { mapper, hash: sha256Hex(`${transformCodeVersion()}\n${await ownHashInput(full, file)}`), file });
  }
  return mappers;
}

/** What a mapper's hash covers besides the code version: its source, or from the build its bundle's sha256. */
async function ownHashInput(full: string, file: string): Promise<string> {
  if (!FROM_BUILD) return readFile(full, 'utf8');
  const hash = buildInfo().mappers[file];
  if (hash === undefined) throw new Error(`${full} is not in ${path.join(DIST_DIR, 'build.json')}: rebuild with npm run build`);
  return hash;
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
  return { mapper, hash: sha256Hex(`${transformCodeVersion()}\ngeneric\n${label}\n${table.primary_key.join(',')}`), file: '(generic)' };
}
