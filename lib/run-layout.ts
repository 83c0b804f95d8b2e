// Where every file of a run lives (as pgcopydb's copydb_paths.h): each stage
// asks here for its keys, so extract, transform, load and verify can never
// disagree on where a file is, and a run's layout reads in one place. Keys are
// relative to the run (`<store>/<run>/`); existing runs are read by these same
// strings, so changing one is a format change.
//
// A table is named by its qualified name (manifests, unit ids, mappers,
// `--table`) and stored under its segment (every key that holds a table's files).
import { compressionSuffix, type Compression } from './compression.ts';
import { shardLabel, type Shard } from './shard.ts';

/**
 * `table` in the public schema, else `schema.table`. A `.` or `%` inside a
 * schema or table name is percent-encoded, so `public."audit.events"`
 * (`audit%2Eevents`) and `audit.events` never share a name; an ordinary name
 * is unchanged.
 */
export function qualifiedName(schema: string, table: string): string {
  const part = (name: string) => name.replace(/%/g, '%25').replace(/\./g, '%2E');
  return schema === 'public' ? part(table) : `${part(schema)}.${part(table)}`;
}

/** `users`, `audit.events`: a file-system- and S3-safe path segment for a qualified table name. */
export function tableSegment(name: string): string {
  const encoded = encodeURIComponent(name);
  // `.` and `..` are the only names encodeURIComponent leaves that a file system would read as directories.
  return encoded === '.' || encoded === '..' ? encoded.replace(/\./g, '%2E') : encoded;
}

/** `part-00000`: part `index` of a table, in extract, items and transform units alike. */
export const partName = (index: number) => `part-${String(index).padStart(5, '0')}`;

/** `<stage>/.write-check`: the object a stage puts and deletes first, to fail fast on a store it cannot write. */
export const writeCheckKey = (stage: 'extract' | 'transform' | 'load') => `${stage}/.write-check`;

// --- the run -----------------------------------------------------------------

/** `report.json`: every stage appends what it did (lib/run-report.ts). */
export const RUN_REPORT_KEY = 'report.json';
/** `report.html`: the run report rendered (plan/run-report-cli.ts). */
export const REPORT_HTML_KEY = 'report.html';

// --- plan --------------------------------------------------------------------

/** `plan/plan.json` and `plan/plan.html`: the plan of a run, before it extracts. */
export const PLAN_JSON_KEY = 'plan/plan.json';
export const PLAN_HTML_KEY = 'plan/plan.html';

// --- extract -----------------------------------------------------------------

/** `extract/manifest.json`: the extract's tables and parts. */
export const EXTRACT_MANIFEST_KEY = 'extract/manifest.json';
/** `extract/plan.json`: a sharded extract's parts, fixed once so every shard copies from the same list. */
export const EXTRACT_PLAN_KEY = 'extract/plan.json';
/** `extract/shards/`: one fragment per extract shard. */
export const EXTRACT_SHARDS_PREFIX = 'extract/shards';
/** `extract/shards/shard-000i-of-000n.json`: the parts extract shard i of n copied. */
export const extractFragmentKey = (shard: Shard) => `${EXTRACT_SHARDS_PREFIX}/${shardLabel(shard)}.json`;

/** `extract/<table>/part-00000.csv.gz`: part `part` of a table's extract. */
export function extractPartKey(table: string, part: number, extension = 'csv.gz'): string {
  return `extract/${tableSegment(table)}/${partName(part)}.${extension}`;
}

// --- transform ---------------------------------------------------------------

/** `transform/manifest.json`: the transform's item files, per table. */
export const TRANSFORM_MANIFEST_KEY = 'transform/manifest.json';
/** `transform/units.json`: the run's shards for a map over units, one entry per `--shard k/n` with the units it does. */
export const TRANSFORM_UNITS_KEY = 'transform/units.json';
/** `transform/shards/`: one fragment per transform shard. */
export const TRANSFORM_SHARDS_PREFIX = 'transform/shards';
/** `transform/shards/shard-000i-of-000n.json`: the units transform shard i of n did. */
export const transformFragmentKey = (shard: Shard) => `${TRANSFORM_SHARDS_PREFIX}/${shardLabel(shard)}.json`;
/** `transform/map-results`: where a Step Functions Distributed Map over the units writes its results. */
export const MAP_RESULTS_KEY = 'transform/map-results';
/** `transform/duplicates.jsonl`: each later item against the first one with its key. */
export const DUPLICATES_KEY = 'transform/duplicates.jsonl';

/** `items/<table>`: a table's item files (listed to find stale ones). */
export const itemsPrefix = (table: string) => `items/${tableSegment(table)}`;
/** `items/<table>/part-00000.json.gz` (`.json.zst`, `.json`): the items of a table's part. */
export const itemsKey = (table: string, index: number, compression: Compression = 'gzip') =>
  `${itemsPrefix(table)}/${partName(index)}.json${compressionSuffix(compression)}`;
/** `transform/units/`: the done units' records and their side files. */
export const UNIT_RECORDS_PREFIX = 'transform/units';
/** `transform/units/<table>/part-00000.json`: a done unit's record; its side files sit beside it. */
export const unitKey = (table: string, index: number) => `transform/units/${tableSegment(table)}/${partName(index)}.json`;
/** `transform/units/<table>/part-00000.rejects.jsonl`: a unit's rejects. */
export const rejectsKey = (table: string, index: number) => `transform/units/${tableSegment(table)}/${partName(index)}.rejects.jsonl`;
/** `transform/units/<table>/part-00000.keys`: a unit's item key hashes. */
export const keysKey = (table: string, index: number) => `transform/units/${tableSegment(table)}/${partName(index)}.keys`;

/** `transform/rejects/<table>.jsonl`: every reject of a table's transform, in part order. */
export function rejectsFileKey(table: string): string {
  return `transform/rejects/${tableSegment(table)}.jsonl`;
}

// --- load --------------------------------------------------------------------

/** `load/report.json`: what the last load did. */
export const LOAD_REPORT_KEY = 'load/report.json';
/** `load/import.json`: the import table and every import attempt into it, oldest first. */
export const IMPORT_RECORD_KEY = 'load/import.json';

/** `load/loaded/<DynamoDB table>.json`: what the run last loaded into a DynamoDB table. */
export function loadedKey(tableName: string): string {
  // DynamoDB table names are [A-Za-z0-9_.-]{3,255}: safe as one key segment.
  return `load/loaded/${tableName}.json`;
}

/**
 * `catchup/target.json`: the DynamoDB table a FOLLOW=1 run's catchup applies
 * changes to (written before its first write). From then on the slot is past
 * the snapshot: a load of the run into that table would put older items back,
 * and a catchup into another table would miss what was applied.
 */
export const CATCHUP_TARGET_KEY = 'catchup/target.json';

/** `load/keys/`: the key records of every load of the run. */
export const LOADED_KEYS_PREFIX = 'load/keys';
/**
 * `load/keys/<DynamoDB table>/<table>`: the key records a load put into a
 * DynamoDB table, per source table (load/loaded-keys.ts). Plain
 * encodeURIComponent, as runs already hold these keys; it differs from
 * tableSegment only for a name `.` or `..`, which qualifiedName never gives
 * (it encodes a dot), so both would write the same bytes for every table.
 */
export const loadedKeysDir = (tableName: string, table: string) => `${LOADED_KEYS_PREFIX}/${encodeURIComponent(tableName)}/${encodeURIComponent(table)}`;

// --- verify ------------------------------------------------------------------

/** `load/verify.json`: the verify report (under load/, where runs have always kept it). */
export const VERIFY_REPORT_KEY = 'load/verify.json';
/** `verify/shards/`: one fragment, and its key sets, per verify shard. */
export const VERIFY_SHARDS_PREFIX = 'verify/shards';
/** `verify/shards/shard-000i-of-000n.json`: what verify shard i of n found. */
export const verifyFragmentKey = (shard: Shard) => `${VERIFY_SHARDS_PREFIX}/${shardLabel(shard)}.json`;
/** `verify/shards/shard-000i-of-000n.table` (`.run`): a verify shard's keys read from the table (from the run). */
export const shardFileKey = (shard: Shard, side: 'table' | 'run') => `${VERIFY_SHARDS_PREFIX}/${shardLabel(shard)}.${side}`;

// --- catchup -----------------------------------------------------------------

/** `catchup/rejects/`: the rows a catchup batch could not map, one file per batch. */
export const CATCHUP_REJECTS_PREFIX = 'catchup/rejects';
/** `catchup/rejects/<hi>-<lo>.jsonl`: the rejects of the batch that starts at slot position `hi/lo` (8 hex digits each). */
export const catchupRejectsKey = (hi: string, lo: string) => `${CATCHUP_REJECTS_PREFIX}/${hi}-${lo}.jsonl`;
