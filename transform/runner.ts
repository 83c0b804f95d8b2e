// The transform stage: units of (table × extract part) → `<run>/items/…`.
// A unit is done when its record under transform/units/ matches its
// fingerprint (input sha256, mapper hash, options, joined inputs) and its item
// file exists with the recorded size; a rerun skips done units and redoes the
// rest, so a run killed anywhere ends byte-identical to an uninterrupted one.
// The manifest, written last from every unit record, is what load trusts.
import { StringDecoder } from 'node:string_decoder';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { runStorage } from '../lib/config.ts';
import { UserError, errorMessage } from '../lib/errors.ts';
import { Progress, formatBytes, type Logger } from '../lib/log.ts';
import { EXTRACT_MANIFEST_KEY, readExtractManifest, type ExtractManifest, type PartEntry, type TableEntry } from '../lib/manifest.ts';
import { Meter, sha256Hex } from '../lib/meter.ts';
import type { Storage } from '../lib/storage.ts';
import {
  TRANSFORM_FORMAT, TRANSFORM_MANIFEST_KEY,
  type ItemPart, type TransformManifest, type TransformTable,
} from '../lib/transform-manifest.ts';
import { CopyCsvParser, type CsvRow } from './copy-csv.ts';
import { KeyCollector, findDuplicates } from './duplicate-keys.ts';
import { ItemBuilder, isReject, epochSeconds, type JoinIndex, type Reject } from './item.ts';
import { genericMapper, loadMappers, type LoadedMapper } from './registry.ts';

export type Unmapped = 'fail' | 'skip' | 'generic';

export interface TransformOptions {
  store: string;
  run: string;
  tables?: string[];
  concurrency: number;
  gzipLevel: number;
  unmapped: Unmapped;
  dropExpired: boolean;
  /** Redo the selected tables' units even when they are done. */
  force?: boolean;
  log: Logger;
}

interface Plan { table: TableEntry; mapping: 'mapper' | 'generic' | 'skip'; mapper?: LoadedMapper }

interface Unit {
  plan: Plan & { mapper: LoadedMapper };
  part: PartEntry;
  index: number;
  fingerprint: string;
}

/** What a finished unit leaves under transform/units/: its manifest entry and where its side files are. */
interface UnitRecord {
  fingerprint: string;
  table: string;
  part: ItemPart;
  warnings: Record<string, number>;
  max_item_bytes: number;
  rejects_key: string;
  keys_key: string;
}

const partName = (index: number) => `part-${String(index).padStart(5, '0')}`;
const segment = (table: string) => encodeURIComponent(table);
const itemsKey = (table: string, index: number) => `items/${segment(table)}/${partName(index)}.json.gz`;
const unitKey = (table: string, index: number) => `transform/units/${segment(table)}/${partName(index)}.json`;
// A unit's side files sit beside its record; rejects/<table>.jsonl gathers a table's rejects.
const rejectsKey = (table: string, index: number) => `transform/units/${segment(table)}/${partName(index)}.rejects.jsonl`;
const keysKey = (table: string, index: number) => `transform/units/${segment(table)}/${partName(index)}.keys`;

export async function runTransform(options: TransformOptions): Promise<TransformManifest> {
  const run = runStorage(options.store, options.run);
  const extractText = await run.getText(EXTRACT_MANIFEST_KEY);
  const extract = await readExtractManifest(run);
  if (!extract || extractText === undefined) {
    throw new UserError(`no extract manifest at ${run.uri}/${EXTRACT_MANIFEST_KEY}: run the extract stage for run ${options.run} first`);
  }
  const plans = await planTables(extract, options.unmapped);
  const selected = selectPlans(plans, options.tables);
  const units = selected.flatMap((plan) => unitsOf(plan, extract, options, plans));

  const done = await doneUnits(run, units);
  const pending = units.filter((u) => options.force || !done.has(u));
  options.log(`${units.length - pending.length} of ${units.length} unit(s) already done; transforming ${pending.length} from ${run.uri}`);
  const joins = new JoinCache(run, extract);
  const progress = new Progress(pending.length);
  await pool(pending, options.concurrency, async (unit) => {
    const name = `${unit.plan.table.name}/${partName(unit.index)}`;
    progress.start(name);
    const record = await transformUnit(run, unit, extract, joins, options, (rows, bytes) => progress.update(name, rows, bytes));
    progress.finish(name);
    const p = record.part;
    options.log(`${name}: ${p.rows_in} rows → ${p.items} items (${p.rejected} rejected, ${p.dropped} dropped), ${formatBytes(p.raw_bytes)} JSON → ${formatBytes(p.bytes)} gzip`);
  });

  const manifest = await assemble(run, extract, extractText, plans, options);
  await run.put(TRANSFORM_MANIFEST_KEY, `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

async function planTables(extract: ExtractManifest, unmapped: Unmapped): Promise<Plan[]> {
  const mappers = await loadMappers();
  const missing: string[] = [];
  const plans = extract.tables.map((table): Plan => {
    const mapper = mappers.get(table.name);
    if (mapper) return { table, mapping: 'mapper', mapper };
    if (unmapped === 'skip') return { table, mapping: 'skip' };
    if (unmapped === 'generic' && table.primary_key.length > 0) return { table, mapping: 'generic', mapper: genericMapper(table) };
    missing.push(table.name);
    return { table, mapping: 'skip' };
  });
  if (missing.length > 0) {
    throw new UserError(unmapped === 'generic'
      ? `the generic mapping needs a primary key, which these tables lack: ${missing.join(', ')}; add a mapper in transform/mappers/ for each`
      : `no mapper for table(s): ${missing.join(', ')}; add transform/mappers/<table>.ts for each, or pass --unmapped skip or --unmapped generic`);
  }
  return plans;
}

function selectPlans(plans: Plan[], tables: string[] | undefined): Plan[] {
  if (!tables || tables.length === 0) return plans;
  const unknown = tables.filter((t) => !plans.some((p) => p.table.name === t));
  if (unknown.length > 0) {
    throw new UserError(`no such table in the extract: ${unknown.map((t) => JSON.stringify(t)).join(', ')}; the run has: ${plans.map((p) => p.table.name).join(', ')}`);
  }
  return plans.filter((p) => tables.includes(p.table.name));
}

function unitsOf(plan: Plan, extract: ExtractManifest, options: TransformOptions, plans: Plan[]): Unit[] {
  if (!plan.mapper) return [];
  const joined = Object.values(plan.mapper.mapper.joins ?? {}).map((join) => {
    const other = plans.find((p) => p.table.name === join.table);
    if (!other) throw new UserError(`mapper ${plan.table.name} joins table ${join.table}, which the extract does not hold`);
    return other.table.parts.map((p) => p.sha256).join(',');
  });
  return plan.table.parts.map((part, index) => ({
    plan: plan as Plan & { mapper: LoadedMapper },
    part,
    index,
    fingerprint: sha256Hex(JSON.stringify({
      input: part.sha256,
      columns: plan.table.columns,
      mapper: plan.mapper!.hash,
      joined,
      gzip_level: options.gzipLevel,
      drop_expired: options.dropExpired ? extract.as_of : false,
    })),
  }));
}

async function readRecord(run: Storage, table: string, index: number): Promise<UnitRecord | undefined> {
  const text = await run.getText(unitKey(table, index));
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as UnitRecord;
  } catch {
    return undefined;
  }
}

async function doneUnits(run: Storage, units: Unit[]): Promise<Set<Unit>> {
  const done = new Set<Unit>();
  const listed = new Map<string, Map<string, number>>();
  for (const unit of units) {
    const table = unit.plan.table.name;
    if (!listed.has(table)) {
      listed.set(table, new Map((await run.list(`items/${segment(table)}`)).map((o) => [o.key, o.bytes])));
    }
    const record = await readRecord(run, table, unit.index);
    if (record?.fingerprint === unit.fingerprint && listed.get(table)!.get(record.part.key) === record.part.bytes) done.add(unit);
  }
  return done;
}

/** Join lookups (another table's extract, read once per run and verified against its sha256). */
class JoinCache {
  private readonly cache = new Map<string, Promise<JoinIndex>>();
  constructor(private readonly run: Storage, private readonly extract: ExtractManifest) {}

  get(table: string, match: string, take: string): Promise<JoinIndex> {
    const id = JSON.stringify([table, match, take]);
    let index = this.cache.get(id);
    if (!index) {
      index = this.load(table, match, take);
      this.cache.set(id, index);
    }
    return index;
  }

  private async load(name: string, match: string, take: string): Promise<JoinIndex> {
    const table = this.extract.tables.find((t) => t.name === name)!;
    const m = table.columns.findIndex((c) => c.name === match);
    const k = table.columns.findIndex((c) => c.name === take);
    if (m < 0 || k < 0) throw new UserError(`join on ${name}.${match} → ${name}.${take}: ${name} has no column ${m < 0 ? match : take}`);
    const index: JoinIndex = new Map();
    for (const part of table.parts) {
      await readRows(this.run, name, part, (row) => { index.set(row[m]!, row[k] ?? null); });
    }
    return index;
  }
}

/**
 * Streams an extract part's data rows (after checking its header) to `onRow`,
 * and fails if the stored bytes do not match the manifest's sha256.
 */
async function readRows(run: Storage, table: string, part: PartEntry, onRow: (row: CsvRow, rowNumber: number) => void, onChunk?: () => void): Promise<number> {
  const stored = new Meter();
  const gunzip = createGunzip();
  const decoder = new StringDecoder('utf8');
  const parser = new CopyCsvParser();
  let rowNumber = -1;
  const rows: CsvRow[] = [];
  const drain = () => {
    for (const row of rows) {
      rowNumber++;
      if (rowNumber > 0) onRow(row, rowNumber);
    }
    rows.length = 0;
  };
  try {
    await pipeline(await run.get(part.key), stored, gunzip, async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        parser.push(decoder.write(chunk), rows);
        drain();
        onChunk?.();
      }
      parser.push(decoder.end(), rows);
      parser.end(rows);
      drain();
      yield* [];
    });
  } catch (err) {
    throw new UserError(`${run.uri}/${part.key} (table ${table}): ${errorMessage(err)}`);
  }
  if (stored.sha256 !== part.sha256) {
    throw new UserError(`${run.uri}/${part.key} (table ${table}) does not match the extract manifest's sha256: the file changed after extract`);
  }
  if (rowNumber !== part.rows) {
    throw new UserError(`${run.uri}/${part.key} (table ${table}) holds ${Math.max(rowNumber, 0)} rows where the extract manifest says ${part.rows}`);
  }
  return rowNumber;
}

async function transformUnit(
  run: Storage, unit: Unit, extract: ExtractManifest, joinCache: JoinCache, options: TransformOptions,
  onProgress: (rows: number, bytes: number) => void,
): Promise<UnitRecord> {
  const { table } = unit.plan;
  const { mapper } = unit.plan.mapper;
  const joins = new Map<string, JoinIndex>();
  for (const [name, join] of Object.entries(mapper.joins ?? {})) joins.set(name, await joinCache.get(join.table, join.match, join.take));
  let builder: ItemBuilder;
  try {
    builder = new ItemBuilder(mapper, table, joins);
  } catch (err) {
    throw new UserError(errorMessage(err));
  }
  const asOf = epochSeconds(extract.as_of) ?? 0;
  const keys = new KeyCollector();
  const rejects: Reject[] = [];
  const warnings: Record<string, number> = {};
  let items = 0;
  let dropped = 0;
  let ddbBytes = 0;
  let maxItem = 0;
  let pending: string[] = [];
  let rowsIn = 0;

  const lines = new Readable({ read() {} });
  const jsonMeter = new Meter();
  const gzip = createGzip({ level: options.gzipLevel });
  const key = itemsKey(table.name, unit.index);
  const writing = run.put(key, gzip);
  const encoding = pipeline(lines, jsonMeter, gzip);
  // Keep the publishing promises observed even when reading fails first.
  writing.catch(() => {});
  encoding.catch(() => {});

  const flush = () => {
    if (pending.length > 0) {
      lines.push(pending.join(''));
      pending = [];
    }
  };
  try {
    await readRows(run, table.name, unit.part, (row, rowNumber) => {
      rowsIn++;
      const result = builder.build(row, rowNumber, (column) => { warnings[column] = (warnings[column] ?? 0) + 1; });
      if (isReject(result)) {
        rejects.push(result);
        return;
      }
      if (options.dropExpired && result.ttl !== undefined && result.ttl < asOf) {
        dropped++;
        return;
      }
      keys.add(result.pk, result.sk, rowNumber, items);
      items++;
      ddbBytes += result.size;
      if (result.size > maxItem) maxItem = result.size;
      pending.push(`${result.line}\n`);
    }, () => {
      flush();
      onProgress(rowsIn, jsonMeter.bytes);
    });
    flush();
    lines.push(null);
  } catch (err) {
    lines.destroy(err as Error);
    await Promise.allSettled([writing, encoding]);
    throw err;
  }
  const [stored] = await Promise.all([writing, encoding]);

  if (rowsIn !== items + rejects.length + dropped) throw new Error(`unit ${key}: counts do not reconcile`);
  await run.put(rejectsKey(table.name, unit.index), rejects.map((r) => `${JSON.stringify(r)}\n`).join(''));
  await run.put(keysKey(table.name, unit.index), keys.sorted());
  const record: UnitRecord = {
    fingerprint: unit.fingerprint,
    table: table.name,
    part: {
      input: unit.part.key,
      input_sha256: unit.part.sha256,
      key,
      rows_in: rowsIn,
      items,
      rejected: rejects.length,
      dropped,
      raw_bytes: jsonMeter.bytes,
      bytes: stored.bytes,
      sha256: stored.sha256,
      ddb_bytes: ddbBytes,
    },
    warnings: Object.fromEntries(Object.entries(warnings).sort(([a], [b]) => (a < b ? -1 : 1))),
    max_item_bytes: maxItem,
    rejects_key: rejectsKey(table.name, unit.index),
    keys_key: keysKey(table.name, unit.index),
  };
  // The record is written last: only now is the unit done.
  await run.put(unitKey(table.name, unit.index), `${JSON.stringify(record, null, 2)}\n`);
  return record;
}

/** Builds the manifest from every unit record of the run (not only this invocation's). */
async function assemble(run: Storage, extract: ExtractManifest, extractText: string, plans: Plan[], options: TransformOptions): Promise<TransformManifest> {
  const problems: string[] = [];
  const tables: TransformTable[] = [];
  const keyFiles: { table: string; record: UnitRecord }[] = [];
  const fingerprints = new Map<string, string>();
  for (const plan of plans) for (const unit of unitsOf(plan, extract, options, plans)) fingerprints.set(`${plan.table.name}\n${unit.index}`, unit.fingerprint);

  for (const plan of plans) {
    const entry: TransformTable = {
      name: plan.table.name, mapping: plan.mapping,
      ...(plan.mapper ? { entity_type: plan.mapper.mapper.entityType, mapper_hash: plan.mapper.hash } : {}),
      rows_in: 0, items_out: 0, rejected: 0, dropped: 0, warnings: {}, raw_bytes: 0, bytes: 0, ddb_bytes: 0, max_item_bytes: 0, parts: [],
    };
    if (plan.mapping === 'skip') {
      entry.rows_in = plan.table.rows;
      entry.dropped = plan.table.rows;
    }
    for (let index = 0; plan.mapper && index < plan.table.parts.length; index++) {
      const record = await readRecord(run, plan.table.name, index);
      if (!record || record.fingerprint !== fingerprints.get(`${plan.table.name}\n${index}`)) {
        problems.push(`${plan.table.name} ${partName(index)} is not transformed for the current input and mapper (run the transform for it)`);
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
      keyFiles.push({ table: plan.table.name, record });
    }
    if (entry.rows_in !== entry.items_out + entry.rejected + entry.dropped) {
      problems.push(`${entry.name}: rows_in ${entry.rows_in} ≠ items_out ${entry.items_out} + rejected ${entry.rejected} + dropped ${entry.dropped}`);
    }
    tables.push(entry);
    await combineRejects(run, plan.table.name, keyFiles.filter((k) => k.table === plan.table.name).map((k) => k.record));
  }

  const duplicates = await reportDuplicates(run, keyFiles.map((k) => k.record));
  if (duplicates > 0) problems.push(`${duplicates} item(s) share (PK, SK) with another item: see transform/duplicates.jsonl`);
  const sum = (f: (t: TransformTable) => number) => tables.reduce((n, t) => n + f(t), 0);
  return {
    format: TRANSFORM_FORMAT,
    run_id: options.run,
    as_of: extract.as_of,
    extract_manifest_sha256: sha256Hex(extractText),
    options: { gzip_level: options.gzipLevel, drop_expired: options.dropExpired, unmapped: options.unmapped },
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

/** `transform/rejects/<table>.jsonl`: every reject of the table, in part order. */
async function combineRejects(run: Storage, table: string, records: UnitRecord[]): Promise<void> {
  const texts = await Promise.all(records.map((r) => run.getText(r.rejects_key)));
  await run.put(`transform/rejects/${segment(table)}.jsonl`, texts.map((t) => t ?? '').join(''));
}

/** Writes `transform/duplicates.jsonl` (each later item against the first one with its key) and returns the count. */
async function reportDuplicates(run: Storage, records: UnitRecord[]): Promise<number> {
  const lines: string[] = [];
  const streams = await Promise.all(records.map((r) => run.get(r.keys_key)));
  for await (const d of findDuplicates(streams)) {
    const first = records[d.first.source]!;
    const dup = records[d.duplicate.source]!;
    const keyOf = await itemKeyAt(run, dup.part.key, d.duplicate.line);
    lines.push(`${JSON.stringify({ ...keyOf, first: { table: first.table, row: d.first.row }, duplicate: { table: dup.table, row: d.duplicate.row } })}\n`);
  }
  await run.put('transform/duplicates.jsonl', lines.join(''));
  return lines.length;
}

/** PK and SK of the item on line `line` of an item file (read only to describe a duplicate). */
async function itemKeyAt(run: Storage, key: string, line: number): Promise<{ PK: string; SK: string }> {
  let text = '';
  let seen = 0;
  for await (const chunk of (await run.get(key)).pipe(createGunzip())) {
    text += chunk.toString('utf8');
    const lines = text.split('\n');
    if (seen + lines.length - 1 > line) {
      const item = JSON.parse(lines[line - seen]!).Item;
      return { PK: item.PK.S, SK: item.SK.S };
    }
    seen += lines.length - 1;
    text = lines[lines.length - 1]!;
  }
  throw new Error(`${key} has no line ${line}`);
}

async function pool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined && queue.length > 0) {
      const item = queue.shift()!;
      try {
        await work(item);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (failure !== undefined) throw failure;
}
