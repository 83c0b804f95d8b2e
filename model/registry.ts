// Finds the entities (mappers): every file in model/entities/ default-exports
// one, so adding a table is adding one file. A mapper's hash covers its own
// file (its source, or from the build its bundle's sha256 in dist/build.json)
// and the transform code version (code-version.ts), so a changed mapper
// redoes only its table.
import { readFileSync, statSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { sha256Hex } from '../lib/meter.ts';
import { UserError, errorMessage } from '../lib/errors.ts';
import type { TableEntry } from '../lib/manifest.ts';
import { DIST_DIR, FROM_BUILD, PACKAGE_ROOT } from '../lib/runtime.ts';
import { ENTITIES_SOURCE_DIR, buildInfo, transformCodeVersion } from './code-version.ts';
import type { Mapper } from './entity.ts';
import { tableKeyLabel } from './template.ts';

/** The shipped model's entities (Serenya's): as built in dist/, or their sources. */
export const ENTITIES_DIR = path.join(FROM_BUILD ? DIST_DIR : PACKAGE_ROOT, ENTITIES_SOURCE_DIR);

export interface LoadedMapper {
  mapper: Mapper;
  /** sha256 of the transform code version and the mapper's file. */
  hash: string;
  /** Its source's name (`users.ts`), from the build too. */
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

/** The entity files of `dir` (TypeScript sources), as the registry and the worker bundle both list them. */
export function isEntityFile(file: string): boolean {
  return file.endsWith('.ts') && !file.endsWith('.test.ts');
}

export async function loadMappers(dir = ENTITIES_DIR): Promise<Map<string, LoadedMapper>> {
  // The shipped entities from the build: the ones it made (build.json), not every file in
  // dist/, where a removed one's stays a minute for runs still on the last build.
  const built = FROM_BUILD && dir === ENTITIES_DIR;
  const files = built ? Object.keys(buildInfo().mappers) : (await readdir(dir)).filter(isEntityFile).sort();
  // A model of one's own is the user's code: what is wrong with it is theirs to fix, said in one line naming the file.
  const Failure = dir === ENTITIES_DIR ? Error : UserError;
  const name = (full: string) => (dir === ENTITIES_DIR ? path.relative(process.cwd(), full) : full);
  const shared = dir === ENTITIES_DIR ? '' : await sharedCodeHash(dir);
  const mappers = new Map<string, LoadedMapper>();
  for (const file of files) {
    const full = path.join(dir, built ? file.replace(/\.ts$/, '.js') : file);
    let mapper: Mapper | undefined;
    try {
      mapper = (await import(pathToFileURL(full).href) as { default?: Mapper }).default;
    } catch (err) {
      if (dir === ENTITIES_DIR) throw err;
      throw new UserError(`${full}: cannot be imported: ${errorMessage(err)}${inModulePackage(dir) ? '' : `\n${NOT_A_MODULE_PACKAGE}`}`);
    }
    if (!mapper || typeof mapper.table !== 'string' || !mapper.key) {
      throw new Failure(`${name(full)} does not default-export a mapper (defineMapper({...}))`);
    }
    if (mappers.has(mapper.table)) throw new Failure(`two mappers for table ${mapper.table} in ${entitiesLabel(dir)}: ${mappers.get(mapper.table)!.file} and ${file}`);
    const own = built ? builtMapperHash(file) : await readFile(full, 'utf8');
    mappers.set(mapper.table, { mapper, hash: sha256Hex(`${transformCodeVersion()}\n${own}${shared}`), file });
  }
  return mappers;
}

/** Code files, by their suffix; folders of a model of one's own that hold no code of it. */
const CODE_FILE = /\.(?:[cm]?ts|[cm]?js)$/;
const NOT_CODE_DIRS = new Set(['golden', 'node_modules']);

/**
 * A model of one's own may share code between its entities in its subfolders
 * (`lib/keys.ts`): their sha256 (path and text of each code file) goes into
 * every entity's hash, so a changed helper redoes the model's tables ('' when
 * there is none: the hash is then the entity file's alone, as before).
 * Code imported from outside the model's folder is not covered.
 */
async function sharedCodeHash(dir: string): Promise<string> {
  const files: string[] = [];
  const walk = async (rel: string) => {
    for (const entry of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      const name = path.join(rel, entry.name);
      if (entry.isDirectory()) {
        if (!entry.name.startsWith('.') && !(rel === '' && NOT_CODE_DIRS.has(entry.name))) await walk(name);
      } else if (rel !== '' && CODE_FILE.test(entry.name) && !entry.name.endsWith('.test.ts')) files.push(name);
    }
  };
  await walk('');
  if (files.length === 0) return '';
  files.sort();
  const parts = await Promise.all(files.map(async (f) => `${f}\n${sha256Hex(await readFile(path.join(dir, f)))}`));
  return `\nshared ${sha256Hex(parts.join('\n'))}`;
}

const NOT_A_MODULE_PACKAGE = 'entity files are ES modules: put a package.json holding { "type": "module" } in the directory (make scaffold writes one)';

/** Whether the package.json nearest `dir` makes its .ts files ES modules (as Node decides a file's module type). */
function inModulePackage(dir: string): boolean {
  for (let at = dir; ; at = path.dirname(at)) {
    let text: string | undefined;
    try {
      text = readFileSync(path.join(at, 'package.json'), 'utf8');
    } catch {
      text = undefined;
    }
    if (text !== undefined) {
      try {
        return (JSON.parse(text) as { type?: unknown }).type === 'module';
      } catch {
        return false;
      }
    }
    if (path.dirname(at) === at) return false;
  }
}

/** A shipped mapper's bundle's sha256, as the build recorded it. */
function builtMapperHash(file: string): string {
  const hash = buildInfo().mappers[file];
  if (hash === undefined) throw new Error(`${file} is not in ${path.join(DIST_DIR, 'build.json')}: rebuild with npm run build`);
  return hash;
}

/**
 * The `generic` mapping for a table no mapper covers: PK `<TABLE>#<primary key
 * values>`, SK `<TABLE>` (its label: template.ts tableKeyLabel), entity_type the table name. Needs a primary key.
 */
export function genericMapper(table: TableEntry): LoadedMapper {
  const label = tableKeyLabel(table.name);
  const mapper: Mapper = {
    table: table.name,
    entityType: table.name,
    key: { pk: `${label}#${table.primary_key.map((c, i) => `{pk${i}}`).join('#')}`, sk: label },
    computed: Object.fromEntries(table.primary_key.map((c, i) => [`pk${i}`, (row) => row(c)])),
  };
  return { mapper, hash: sha256Hex(`${transformCodeVersion()}\ngeneric\n${label}\n${table.primary_key.join(',')}`), file: '(generic)' };
}
