// The transform stage: units of (table × extract part) → `<run>/items/…`.
// A unit is done when its record under transform/units/ matches its
// fingerprint (input sha256, mapper hash, options, joined inputs) and its item
// file exists with the recorded size; a rerun skips done units and redoes the
// rest, so a run killed anywhere ends byte-identical to an uninterrupted one.
// The manifest, written last from every unit record, is what load trusts.
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { runStorage } from '../lib/config.ts';
import { joinedInputDigest } from '../lib/freshness.ts';
import { UserError, errorMessage } from '../lib/errors.ts';
import { Progress, debug, formatBytes, type Logger } from '../lib/log.ts';
import { changedAfterExtract, inputPart, readExtractManifest, type ExtractManifest, type PartEntry, type TransformInput } from '../lib/manifest.ts';
import { Meter, sha256Hex } from '../lib/meter.ts';
import { runPool } from '../lib/pool.ts';
import { EXTRACT_MANIFEST_KEY, EXTRACT_SHARDS_PREFIX, itemsPrefix, partName, rejectsFileKey, TRANSFORM_MANIFEST_KEY, TRANSFORM_UNITS_KEY } from '../lib/run-layout.ts';
import { shardText, type Shard } from '../lib/shard.ts';
import type { Storage } from '../lib/storage.ts';
import { TRANSFORM_FORMAT, type TransformManifest, type TransformTable } from '../lib/transform-manifest.ts';
import { reportDuplicates } from './duplicate-report.ts';
import { mapTables, selectMappings, type TableMapping } from '../model/table-mapping.ts';
import { readRecord, unitsOf, type Unit, type UnitOptions, type UnitRecord } from './units.ts';
import { checkFragments, shardUnits, unitsListing, writeFragment } from './shards.ts';
import { removeStaleItems } from './stale-items.ts';
import { transformUnit } from './unit.ts';
import { JoinCache, resolveJoins } from './join-cache.ts';
import { joinFingerprint, keptJoinRecord, type JoinSpec } from './join-store.ts';
import { UnitWorkers, unitTask } from './workers.ts';
import { BuildHelper } from './build-helper.ts';
import { workerBundle } from './worker-bundle.ts';
import type { JoinIndex } from './join-index.ts';

export interface TransformOptions extends UnitOptions {
  store: string;
  run: string;
  tables?: string[];
  /** Units in parallel; above 1 they run on worker threads. */
  concurrency: number;
  /** Redo the selected tables' units even when they are done. */
  force?: boolean;
  /** The model's entity directory (default: the shipped model/entities/). */
  entities?: string;
  log: Logger;
}

export async function runTransform(options: TransformOptions): Promise<TransformManifest> {
  const context = await openContext(options);
  await transformUnits(context, context.units, options);
  return writeManifest(context, options.run, options.log);
}

/** Shard `shard` of a sharded transform: its share of the units, then its fragment (finalize writes the manifest). */
export async function runTransformShard(options: TransformOptions & { shard: Shard }): Promise<{ shard: string; units: number; done_before: number }> {
  const started = new Date();
  const context = await openContext(options);
  const mine = shardUnits(context.units, options.shard);
  options.log(`shard ${shardText(options.shard)}: ${mine.length} of ${context.units.length} unit(s)`);
  const pending = await transformUnits(context, mine, options);
  await writeFragment(context.run, options.run, options.shard, mine, started);
  return { shard: shardText(options.shard), units: mine.length, done_before: mine.length - pending };
}

/** Merges a sharded transform: every unit in exactly one fragment, then the manifest from the unit records. */
export async function finalizeTransform(options: Pick<TransformOptions, 'store' | 'run' | 'log' | 'entities' | keyof UnitOptions>): Promise<{ manifest: TransformManifest; shards: number; started_at?: string; finished_at?: string }> {
  const context = await openContext({ ...options, tables: undefined });
  const span = await checkFragments(context.run, context.units);
  const manifest = await writeManifest(context, options.run, options.log);
  options.log(`finalized ${context.units.length} unit(s) from ${span.shards} shard fragment(s) into ${context.run.uri}/${TRANSFORM_MANIFEST_KEY}`);
  return { manifest, ...span };
}

/** `transform/units.json`: the run's shards and the units each does, for a map over units (Step Functions). */
export async function listUnits(options: Pick<TransformOptions, 'store' | 'run' | 'tables' | 'entities' | keyof UnitOptions> & { shards?: number }): Promise<string> {
  const context = await openContext(options);
  const text = unitsListing(context.units, options.shards);
  await context.run.put(TRANSFORM_UNITS_KEY, text);
  return text;
}

export interface RunContext {
  run: Storage;
  extract: ExtractManifest;
  extractText: string;
  mappings: TableMapping[];
  unitOptions: UnitOptions;
  /** The selected tables' units. */
  units: Unit[];
}

/** The run as a transform sees it: the extract manifest (checked), the mappings and the selected units. */
export async function openContext(options: Pick<TransformOptions, 'store' | 'run' | 'tables' | 'entities' | keyof UnitOptions>): Promise<RunContext> {
  const run = runStorage(options.store, options.run);
  const extractText = await run.getText(EXTRACT_MANIFEST_KEY);
  const extract = await readExtractManifest(run);
  if (!extract || extractText === undefined) {
    const sharded = (await run.list(EXTRACT_SHARDS_PREFIX)).length > 0;
    throw new UserError(`no extract manifest at ${run.uri}/${EXTRACT_MANIFEST_KEY}: ${sharded ? 'the extract was sharded: run extract finalize (make finalize) first' : `run the extract stage for run ${options.run} first`}`);
  }
  const unitOptions: UnitOptions = {
    gzipLevel: options.gzipLevel, unmapped: options.unmapped, dropExpired: options.dropExpired,
    ...(options.compression && options.compression !== 'gzip' ? { compression: options.compression } : {}),
    ...(options.input ? { input: options.input } : {}),
  };
  const mappings = await mapTables(extract, options.unmapped, options.entities);
  const selected = selectMappings(mappings, options.tables);
  const units = selected.flatMap((mapping) => unitsOf(mapping, extract, unitOptions, mappings));
  return { run, extract, extractText, mappings, unitOptions, units };
}

async function writeManifest(context: RunContext, runId: string, log: Logger): Promise<TransformManifest> {
  const manifest = await assemble(context.run, context.extract, context.extractText, context.mappings, context.unitOptions, runId);
  for (const key of await removeStaleItems(context.run, context.extract, context.mappings, context.unitOptions)) {
    log(`removed ${key}: no unit of this run produces it (an older split or table), and ImportTable would import it`);
  }
  await context.run.put(TRANSFORM_MANIFEST_KEY, `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Runs the units of `units` that are not done (all with `force`); returns how many it ran. */
async function transformUnits(context: RunContext, units: Unit[], options: TransformOptions): Promise<number> {
  const { run, extract, mappings, unitOptions } = context;
  const done = await doneUnits(run, units);
  // Largest first, so the last units to finish are small ones and no core idles long.
  const pending = units.filter((u) => options.force || !done.has(u)).sort((a, b) => b.part.raw_bytes - a.part.raw_bytes);
  options.log(`${units.length - pending.length} of ${units.length} unit(s) already done; transforming ${pending.length} from ${run.uri}`);
  const workers = options.concurrency > 1 && pending.length > 1 ? new UnitWorkers(Math.min(options.concurrency, pending.length), { store: options.store, run: options.run, options: unitOptions }, options.entities) : undefined;
  // A unit alone with cores to spare has a helper thread build some of its rows.
  const helped = !workers && options.concurrency > 1 && pending.length === 1 && helpable(pending[0]!);
  if (helped) options.log(`one unit and ${options.concurrency} cores: a helper thread builds some of its rows`);
  const joins = new JoinCache(run, extract, unitOptions.input, workers, options.log, options.force);
  try {
    // Join indexes kept in the run are copied now; the joined tables of the others are read to build them.
    const toBuild = await joins.openKept(joinSpecs(pending));
    // Every input is checked against the manifest before any unit writes, so a
    // tampered part stops the run with nothing written (not half of it).
    await verifyInputs(run, pending, mappings, unitOptions.input, toBuild, options.concurrency);
    // Temp files of a transform killed earlier (never listed, never imported): gone once their writer provably is.
    await run.removeLeftovers();
    // Exact: the extract manifest counts each part's rows.
    const progress = new Progress(pending.length, 0, { what: 'rows', total: pending.reduce((n, u) => n + u.part.rows, 0), unitName: 'units' });
    await runPool(pending, options.concurrency, async (unit) => {
      const name = `${unit.mapping.table.name}/${partName(unit.index)}`;
      const onProgress = (rows: number, bytes: number) => progress.update(name, rows, bytes);
      // Join indexes are read once here, not once per worker.
      const unitJoins = await resolveJoins(unit, joins);
      progress.start(name);
      const record = workers
        ? await workers.run(unit, unitJoins, onProgress)
        : await transformHere(context, unit, unitJoins, onProgress, helped ? options : undefined);
      progress.finish(name, record.part.rows_in);
      const p = record.part;
      options.log(`${name}: ${p.rows_in} rows → ${p.items} items (${p.rejected} rejected, ${p.dropped} dropped), ${formatBytes(p.raw_bytes)} JSON → ${formatBytes(p.bytes)} ${unitOptions.compression ?? 'gzip'}`);
    });
  } finally {
    await workers?.close();
    await joins.close();
  }
  return pending.length;
}

/**
 * A CSV part of at least this many bytes: a helper thread costs ~50 MB of RSS
 * and a start (its bundle, the run's manifest, the mapper), and a smaller
 * part takes well under a second on one core.
 */
const HELPER_MIN_BYTES = 16 * 1000 * 1000;

function helpable(unit: Unit): boolean {
  return !unit.part.key.endsWith('.parquet') && unit.part.raw_bytes >= HELPER_MIN_BYTES;
}

/** A unit on this thread; with `helped`, a helper thread builds some of its batches (build-helper.ts). */
async function transformHere(
  context: RunContext, unit: Unit, joins: Map<string, JoinIndex>, onProgress: (rows: number, bytes: number) => void,
  helped?: Pick<TransformOptions, 'store' | 'run' | 'entities' | 'log'>,
): Promise<UnitRecord> {
  const { run, extract, unitOptions } = context;
  if (!helped) return transformUnit(run, unit, extract, joins, unitOptions, onProgress);
  const bundle = workerBundle(helped.entities);
  const helper = new BuildHelper(bundle.entry, unitTask(bundle, { store: helped.store, run: helped.run, options: unitOptions }, unit, joins));
  try {
    const record = await transformUnit(run, unit, extract, joins, unitOptions, onProgress, helper);
    if (helper.failure) helped.log(`${unit.mapping.table.name}: the helper thread failed (${errorMessage(helper.failure)}); this thread built the rows it had not`);
    return record;
  } finally {
    await helper.close();
  }
}

/**
 * Builds every join index the selected tables' units use and keeps it in the
 * run, so the shards that follow copy it (join-store.ts). One kept already for
 * these inputs is left as it is, uncopied (`--force` rebuilds it).
 */
export async function keepJoins(options: Pick<TransformOptions, 'store' | 'run' | 'tables' | 'entities' | 'log' | 'force' | keyof UnitOptions>): Promise<(JoinSpec & { entries: number })[]> {
  const context = await openContext(options);
  const { input } = context.unitOptions;
  // Asked only for what has no usable kept index: it builds without looking for one again.
  const joins = new JoinCache(context.run, context.extract, input, undefined, options.log, true, true);
  try {
    const out = [];
    for (const spec of joinSpecs(context.units)) {
      const kept = options.force ? undefined : await keptJoinRecord(context.run, spec, joinFingerprint(context.extract, spec, input), options.log);
      if (kept) options.log(`join on ${spec.table}.${spec.match} → ${spec.take}: ${kept.entries} keys, already kept in the run for these inputs`);
      out.push({ ...spec, entries: kept?.entries ?? (await joins.get(spec.table, spec.match, spec.take)).data.entries });
    }
    return out;
  } finally {
    await joins.close();
  }
}

/** The joins `units` make, each once. */
function joinSpecs(units: Unit[]): JoinSpec[] {
  const specs = new Map<string, JoinSpec>();
  for (const unit of units) {
    for (const { table, match, take } of Object.values(unit.mapping.mapper.mapper.joins ?? {})) specs.set(JSON.stringify([table, match, take]), { table, match, take });
  }
  return [...specs.values()];
}

/**
 * sha256 of each stored input part of `units`, and of the tables joined through
 * `toBuild` (the files `input` names), against the extract manifest. A kept
 * index was built from parts checked so (its fingerprint holds their sha256s):
 * its table is not read again.
 */
async function verifyInputs(run: Storage, units: Unit[], mappings: TableMapping[], input: TransformInput | undefined, toBuild: JoinSpec[], concurrency: number): Promise<void> {
  const parts = new Map<string, { table: string; part: PartEntry }>();
  for (const unit of units) {
    parts.set(unit.part.key, { table: unit.mapping.table.name, part: unit.part });
    for (const join of Object.values(unit.mapping.mapper.mapper.joins ?? {})) {
      if (!toBuild.some((b) => b.table === join.table && b.match === join.match && b.take === join.take)) continue;
      const joined = mappings.find((p) => p.table.name === join.table)!;
      for (const entry of joined.table.parts) {
        const part = inputPart(entry, input);
        parts.set(part.key, { table: joined.table.name, part });
      }
    }
  }
  await runPool([...parts.values()], concurrency, async ({ table, part }) => {
    const meter = new Meter();
    try {
      await pipeline(await run.get(part.key), meter, new Writable({ write: (_chunk, _encoding, done) => done() }));
    } catch (err) {
      // A UserError already names its object (a read that broke past resuming, say).
      if (err instanceof UserError) throw err;
      throw new UserError(`${run.uri}/${part.key} (table ${table}): ${errorMessage(err)}`);
    }
    if (meter.sha256 !== part.sha256) {
      throw new UserError(`${run.uri}/${part.key} (table ${table}) does not match the extract manifest's sha256: ${changedAfterExtract(table)}`);
    }
  });
}

export async function doneUnits(run: Storage, units: Unit[]): Promise<Set<Unit>> {
  const done = new Set<Unit>();
  const listed = new Map<string, Map<string, number>>();
  for (const unit of units) {
    const table = unit.mapping.table.name;
    if (!listed.has(table)) {
      listed.set(table, new Map((await run.list(itemsPrefix(table))).map((o) => [o.key, o.bytes])));
    }
    const record = await readRecord(run, table, unit.index);
    if (record?.fingerprint === unit.fingerprint && listed.get(table)!.get(record.part.key) === record.part.bytes) done.add(unit);
    else debug(`${table} unit ${unit.index}: ${!record ? 'no record' : record.fingerprint !== unit.fingerprint ? 'inputs, mapper or options changed' : 'item file missing or of another size'}; transforming it`);
  }
  return done;
}

/** Builds the manifest from every unit record of the run (not only this invocation's). */
async function assemble(run: Storage, extract: ExtractManifest, extractText: string, mappings: TableMapping[], options: UnitOptions, runId: string): Promise<TransformManifest> {
  const problems: string[] = [];
  const untransformed = new Set<string>();
  const tables: TransformTable[] = [];
  const keyFiles: { table: string; record: UnitRecord }[] = [];
  const fingerprints = new Map<string, string>();
  for (const mapping of mappings) for (const unit of unitsOf(mapping, extract, options, mappings)) fingerprints.set(`${mapping.table.name}\n${unit.index}`, unit.fingerprint);

  for (const mapping of mappings) {
    const entry: TransformTable = {
      name: mapping.table.name, mapping: mapping.mapping,
      ...(mapping.mapper ? { entity_type: mapping.mapper.mapper.entityType, mapper_hash: mapping.mapper.hash } : {}),
      rows_in: 0, items_out: 0, rejected: 0, dropped: 0, warnings: {}, raw_bytes: 0, bytes: 0, ddb_bytes: 0, max_item_bytes: 0,
      ...joinedInputs(mapping, mappings), parts: [],
    };
    if (mapping.mapping === 'skip') {
      entry.rows_in = mapping.table.rows;
      entry.dropped = mapping.table.rows;
    }
    for (let index = 0; mapping.mapper && index < mapping.table.parts.length; index++) {
      const record = await readRecord(run, mapping.table.name, index);
      if (!record || record.fingerprint !== fingerprints.get(`${mapping.table.name}\n${index}`)) {
        untransformed.add(mapping.table.name);
        continue;
      }
      const p = record.part;
      entry.parts.push(p);
      entry.rows_in += p.rows_in;
      entry.items_out += p.items;
      entry.rejected += p.rejected;
      entry.dropped += p.dropped;
      entry.raw_bytes += p.raw_bytes;
      entry.bytes += p.bytes;
      entry.ddb_bytes += p.ddb_bytes;
      entry.max_item_bytes = Math.max(entry.max_item_bytes, record.max_item_bytes);
      for (const [column, n] of Object.entries(record.warnings)) entry.warnings[column] = (entry.warnings[column] ?? 0) + n;
      keyFiles.push({ table: mapping.table.name, record });
    }
    if (entry.rows_in !== entry.items_out + entry.rejected + entry.dropped) {
      problems.push(`${entry.name}: rows_in ${entry.rows_in} ≠ items_out ${entry.items_out} + rejected ${entry.rejected} + dropped ${entry.dropped}`);
    }
    tables.push(entry);
    await combineRejects(run, mapping.table.name, keyFiles.filter((k) => k.table === mapping.table.name).map((k) => k.record));
  }

  if (untransformed.size > 0) {
    problems.push(`not transformed for the current extract, mapper and options: ${[...untransformed].join(', ')} (run the transform without TABLE= to finish)`);
  }
  const duplicates = await reportDuplicates(run, keyFiles.map((k) => k.record));
  if (duplicates > 0) problems.push(`${duplicates} item(s) share (PK, SK) with another item: see transform/duplicates.jsonl`);
  const sum = (f: (t: TransformTable) => number) => tables.reduce((n, t) => n + f(t), 0);
  return {
    format: TRANSFORM_FORMAT,
    run_id: runId,
    as_of: extract.as_of,
    extract_manifest_sha256: sha256Hex(extractText),
    options: {
      gzip_level: options.gzipLevel, drop_expired: options.dropExpired, unmapped: options.unmapped,
      ...(options.compression && options.compression !== 'gzip' ? { compression: options.compression } : {}),
    },
    tables,
    totals: {
      rows_in: sum((t) => t.rows_in), items_out: sum((t) => t.items_out), rejected: sum((t) => t.rejected),
      dropped: sum((t) => t.dropped), raw_bytes: sum((t) => t.raw_bytes), bytes: sum((t) => t.bytes), ddb_bytes: sum((t) => t.ddb_bytes),
    },
    duplicates,
    problems,
    ready_for_load: problems.length === 0,
  };
}

/** The tables a mapper joins and what was read of each, so a later stage can tell a re-extracted join from a current one. */
function joinedInputs(mapping: TableMapping, mappings: TableMapping[]): { joined?: Record<string, string> } {
  const joins = Object.values(mapping.mapper?.mapper.joins ?? {});
  if (joins.length === 0) return {};
  const joined: Record<string, string> = {};
  for (const join of joins) joined[join.table] = joinedInputDigest(mappings.find((p) => p.table.name === join.table)!.table);
  return { joined };
}

/** `transform/rejects/<table>.jsonl`: every reject of the table, in part order. */
async function combineRejects(run: Storage, table: string, records: UnitRecord[]): Promise<void> {
  const texts = await Promise.all(records.map((r) => run.getText(r.rejects_key)));
  await run.put(rejectsFileKey(table), texts.map((t) => t ?? '').join(''));
}
