// The extract stage: every selected table, from one snapshot, to
// `<run>/extract/<table>/part-NNNNN.csv.gz`, then the manifest, written last,
// so a run without a manifest entry for a table never claims that table.
// A sharded extract (issue 9) splits the same work across machines: a
// coordinator holds the snapshot and writes the plan, each shard copies its
// share of the plan's parts and writes a fragment, and finalize turns the
// fragments into the same manifest a single extract would have written.
import { once } from 'node:events';
import type { Compression } from '../lib/compression.ts';
import { runStorage } from '../lib/config.ts';
import { UserError, errorMessage } from '../lib/errors.ts';
import { Progress, debug, formatBytes, type Logger } from '../lib/log.ts';
import { EXTRACT_FORMAT, checkExtractFiles, manifestText, readExtractManifest, type ExtractFormat, type ExtractManifest, type FollowEntry, type PartEntry, type TableEntry } from '../lib/manifest.ts';
import { runPool } from '../lib/pool.ts';
import { connect, describeTarget, redact, releasingLocks, type PgClient } from '../lib/postgres.ts';
import { EXTRACT_MANIFEST_KEY, EXTRACT_PLAN_KEY, EXTRACT_SHARDS_PREFIX, extractFragmentKey, qualifiedName, writeCheckKey } from '../lib/run-layout.ts';
import { LOCK_STALE_MS, checkShardWrites, lockRun, type RunLock } from '../lib/run-lock.ts';
import { DEFAULT_STORE_TIMEOUT_SECONDS, checkStoreWritable } from '../lib/store-check.ts';
import { fragmentKeys, shardText, unitsOfShard, type Shard } from '../lib/shard.ts';
import type { Storage } from '../lib/storage.ts';
import { listSourceTables, readCatalog, skippedRelations, type CatalogTable, type SourceTable } from './catalog.ts';
import { DEFAULT_LOCK_WAIT_SECONDS, checkName, checkTypes, lockForCopy, lockSnapshotTables } from './table-locks.ts';
import { copyTable } from './copy-table.ts';
import { EXTRACT_PLAN_FORMAT, collectFragments, fragmentText, planUnits, readPlan, unitId, unitName, type CopyUnit, type ExtractPlan } from './copy-units.ts';
import { exportSnapshot, joinSnapshot, type Snapshot } from './snapshot.ts';
import { checkFollowSource, createFollowSlot, type FollowSlot } from './follow.ts';

export interface ExtractOptions {
  /** Unset: libpq's PG* variables. */
  databaseUrl?: string;
  store: string;
  run: string;
  /** Only these tables; the manifest keeps every other table's entry. */
  tables?: string[];
  concurrency: number;
  schemas: string[];
  gzipLevel: number;
  /** The CSV parts' compression: gzip (default), zstd or none. */
  compression?: Compression;
  /** csv (default), parquet, or both from the same COPY. */
  format?: ExtractFormat;
  /** Split tables of more than this many (estimated) rows into primary-key ranges of about this size. */
  splitRows?: number;
  /** And tables of more on-disk bytes than this into ranges of about this size (extract/split.ts planSplits); unset or 0: by rows alone. */
  splitBytes?: number;
  /** How long the snapshot waits for a lock another session holds on a table (pg_dump's --lock-wait-timeout). */
  lockWaitSeconds?: number;
  /** Seconds the store may take to answer the write check (lib/store-check.ts). */
  storeTimeoutSeconds?: number;
  /** FOLLOW=1: copy from a new logical replication slot's snapshot, for `make catchup` (extract/follow.ts). */
  follow?: boolean;
  log: Logger;
}

export interface ExtractSummary {
  run: string;
  store: string;
  as_of: string;
  server_version: string;
  /** Set for one shard of a sharded extract: its part of the work. */
  shard?: string;
  tables: { name: string; rows: number; raw_bytes: number; bytes: number; seconds: number }[];
  rows: number;
  raw_bytes: number;
  bytes: number;
  seconds: number;
}

interface CopiedPart { unit: CopyUnit; part: PartEntry; seconds: number }

export async function runExtract(options: ExtractOptions): Promise<ExtractSummary> {
  const started = Date.now();
  const run = runStorage(options.store, options.run);
  // Taken once the store is known writable, before any slot, table lock or COPY; released however the extract ends.
  const held: Held = { what: options.tables?.length ? `TABLE=${options.tables.join(',')}` : 'every table' };
  try {
    const { snapshot, slot } = await openSnapshot(run, options, held);
    try {
      const plan = await makePlan(snapshot, run, options, slot?.follow, held);
      await retireShardedPlan(run, options);
      // Temp files of an extract killed earlier are never listed; remove them so the run holds only complete files.
      await run.removeLeftovers();
      options.log(`snapshot ${snapshot.id} at ${snapshot.asOf} (PostgreSQL ${snapshot.server.version}); ${plan.tables.length} table(s) to ${run.uri}`);
      const copied = await copyUnits(plan, plan.units, run, options);
      const parts = new Map(copied.map((c) => [unitId(c.unit), c.part]));
      const manifest = await buildManifest(run, plan, parts);
      await held.lock!.check();
      await run.put(EXTRACT_MANIFEST_KEY, manifestText(manifest));
      return summarize(options, run, manifest, copied, started);
    } finally {
      await snapshot.close().catch(() => {});
      await slot?.close().catch(() => {});
    }
  } finally {
    await held.lock?.release().catch(() => {});
  }
}

/**
 * An extract of its own replaces parts a sharded extract's plan and fragments
 * describe: they go first, under the lock. Kept, a later finalize (`make
 * finalize` finalizes every stage that has fragments) published them again over
 * this extract's manifest entries, and where a part kept its size, silently.
 * A plan not yet finalized holds every table's only record: a `TABLE=` extract,
 * which replaces some, is refused rather than drop the others.
 */
async function retireShardedPlan(run: Storage, options: ExtractOptions): Promise<void> {
  const fragments = await fragmentKeys(run, EXTRACT_SHARDS_PREFIX);
  const plan = await run.getText(EXTRACT_PLAN_KEY);
  if (fragments.length === 0 && plan === undefined) return;
  if (plan !== undefined && options.tables?.length) {
    const snapshotId = (JSON.parse(plan) as { snapshot_id?: string }).snapshot_id;
    const manifest = await readExtractManifest(run, { checkFiles: false }).catch(() => undefined);
    if (manifest?.snapshot_id !== snapshotId) {
      throw new UserError(`run ${options.run} has a sharded extract not finalized (${run.uri}/${EXTRACT_PLAN_KEY}, snapshot ${snapshotId}): a TABLE= extract would drop its other tables; ` +
        `finalize it first (make finalize RUN=${options.run} STAGE=extract), or extract every table (no TABLE=) to replace it`);
    }
  }
  for (const key of fragments) await run.delete(key);
  if (plan !== undefined) await run.delete(EXTRACT_PLAN_KEY);
  const what = [plan === undefined ? '' : 'the plan', fragments.length > 0 ? `${fragments.length} shard fragment(s)` : ''].filter(Boolean).join(' and ');
  options.log(`removed ${what} of a sharded extract from ${run.uri}/extract: this extract replaces the parts they describe, so finalize cannot publish them again`);
}

/** The run's lock (lib/run-lock.ts) for `what`, once taken: an extract's, or a sharded extract's coordinator's. */
interface Held { what: string; lock?: RunLock }

/** The store's write check, then the run's lock. */
async function checkWritableAndLock(run: Storage, options: ExtractOptions, held: Held): Promise<void> {
  if (held.lock) return;
  await checkWritable(run, options);
  held.lock = await lockRun(run, held.what, options.log);
}

/**
 * A snapshot of its own is later than a FOLLOW=1 run's slot: the changes
 * between would be both in its files and in the slot (and a whole rerun's
 * manifest would forget the slot, which then keeps WAL with no --drop-slot to
 * free it).
 */
async function refuseFollowedRun(run: Storage, options: ExtractOptions): Promise<void> {
  const previous = await readExtractManifest(run, { checkFiles: false }).catch(() => undefined);
  if (previous?.follow) {
    throw new UserError(`run ${options.run} follows replication slot ${previous.follow.slot}: its files must all come from the slot's snapshot, so an extract without FOLLOW=1 cannot replace them; ` +
      'extract into a new RUN (and drop this one\'s slot with make catchup ARGS=--drop-slot if it is abandoned)');
  }
}

/**
 * The run's snapshot: its own, or with FOLLOW=1 the one a new replication
 * slot exports (the slot's walsender connection stays open while it is used).
 */
async function openSnapshot(run: Storage, options: ExtractOptions, held: Held): Promise<{ snapshot: Snapshot; slot?: FollowSlot }> {
  if (!options.follow) {
    await refuseFollowedRun(run, options);
    return { snapshot: await exportSnapshot(options.databaseUrl) };
  }
  const previous = await readExtractManifest(run, { checkFiles: false });
  if (options.tables && options.tables.length > 0) throw new UserError('FOLLOW=1 extracts the whole run (its slot follows every table): drop TABLE=');
  if (previous?.follow) {
    throw new UserError(`run ${options.run} already follows replication slot ${previous.follow.slot}: catch it up with make catchup, or drop it (make catchup ARGS=--drop-slot) and extract into a new RUN`);
  }
  const client = await connect(options.databaseUrl, 'pg2ddb-extract-follow');
  let tables: SourceTable[];
  try {
    tables = selectTables(await listSourceTables(client, options.schemas), undefined, options.schemas);
    await checkFollowSource(client, tables);
  } finally {
    await client.end().catch(() => {});
  }
  // A slot retains WAL from the moment it exists: make none for a store that cannot take the parts (or is locked).
  await checkWritableAndLock(run, options, held);
  const slot = await createFollowSlot(options.databaseUrl, options.run, tables);
  try {
    return { snapshot: await exportSnapshot(options.databaseUrl, slot.snapshotName), slot };
  } catch (err) {
    await slot.close().catch(() => {});
    throw err;
  }
}

/**
 * The coordinator of a sharded extract: exports the snapshot, writes the plan
 * and keeps the snapshot's transaction open until `stop` resolves (SIGINT or
 * SIGTERM from the CLI), since shards can join it only while it is open. It
 * holds the run's lock as long, so no other extract writes the run under its
 * shards, and names the lock in the plan for them and for finalize.
 */
export async function holdSnapshot(options: ExtractOptions, ready: (plan: ExtractPlan) => void, stop: Promise<unknown>, heartbeatSeconds = 30): Promise<void> {
  const run = runStorage(options.store, options.run);
  let stopped = false;
  void stop.then(() => { stopped = true; });
  const held: Held = { what: 'the coordinator of a sharded extract' };
  try {
    await holdLocked(run, options, held, ready, stop, () => stopped, heartbeatSeconds);
  } finally {
    await held.lock?.release().catch(() => {});
  }
}

async function holdLocked(run: Storage, options: ExtractOptions, held: Held, ready: (plan: ExtractPlan) => void, stop: Promise<unknown>, stopped: () => boolean, heartbeatSeconds: number): Promise<void> {
  const { snapshot, slot } = await openSnapshot(run, options, held);
  try {
    const plan = await makePlan(snapshot, run, options, slot?.follow, held);
    // Stopped while planning: a plan.json now would name a snapshot released
    // at once, and shards waiting for it would start on nothing.
    if (stopped()) return;
    await run.put(EXTRACT_PLAN_KEY, `${JSON.stringify(plan, null, 2)}\n`);
    options.log(`holding snapshot ${snapshot.id} at ${snapshot.asOf}: ${plan.units.length} part(s) of ${plan.tables.length} table(s) planned in ${run.uri}/${EXTRACT_PLAN_KEY}`);
    ready(plan);
    // A coordinator whose connection dies can no longer serve shards: fail loudly rather than hold nothing.
    const target = describeTarget(snapshot.client);
    const lost = once(snapshot.client, 'error').then(([err]) => { throw new UserError(`the snapshot's connection to ${target} failed: ${redact(errorMessage(err))}; shards can no longer join it: start a new coordinator and rerun every shard`); });
    lost.catch(() => {}); // an error after the stop (while closing) is no failure
    const silent = new AbortController();
    const dead = heartbeat(snapshot.client, target, heartbeatSeconds, silent.signal);
    dead.catch(() => {});
    const taken = lockTaken(held.lock!, run, heartbeatSeconds, silent.signal);
    taken.catch(() => {});
    try {
      await Promise.race([stop, lost, dead, taken]);
    } finally {
      silent.abort();
    }
    options.log(`released snapshot ${snapshot.id}`);
  } finally {
    await snapshot.close().catch(() => {});
    await slot?.close().catch(() => {});
  }
}

/**
 * Rejects once the coordinator's connection stops answering: every
 * `seconds`, a `SELECT 1` inside the snapshot's transaction (harmless to it)
 * must answer within `seconds`. A connection cut without a FIN or RST (a
 * failover, a proxy's idle timeout, a NAT) otherwise goes unnoticed for hours.
 */
async function heartbeat(client: PgClient, target: string, seconds: number, signal: AbortSignal): Promise<never> {
  for (;;) {
    await abortableWait(seconds * 1000, signal);
    if (signal.aborted) return new Promise<never>(() => {});
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), seconds * 1000); });
    const answer = await Promise.race([client.query('SELECT 1').then(() => 'ok' as const, () => 'failed' as const), late]);
    clearTimeout(timer);
    if (signal.aborted) return new Promise<never>(() => {});
    if (answer !== 'ok') {
      // A silent socket would keep the process (and client.end()) waiting: drop it.
      (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      throw new UserError(`the snapshot's connection to ${target} ${answer === 'late' ? `stopped answering (no reply within ${seconds} s)` : 'failed'}; shards can no longer join it: start a new coordinator and rerun every shard`);
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (the coordinator's watches end with it). */
function abortableWait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

/**
 * Rejects once the coordinator's lock is no longer its own: another extract
 * took it for a leftover (this process was paused past its staleness, or its
 * host's clock is behind) and may be writing parts under the shards. A store
 * that fails to answer is asked again next time.
 */
async function lockTaken(lock: RunLock, run: Storage, seconds: number, signal: AbortSignal): Promise<never> {
  for (;;) {
    await abortableWait(seconds * 1000, signal);
    if (signal.aborted) return new Promise<never>(() => {});
    try {
      await lock.check();
    } catch (err) {
      if (!(err instanceof UserError) || signal.aborted) continue;
      throw new UserError(`another extract took run ${run.uri}'s lock from this coordinator (it was paused over ${LOCK_STALE_MS / 60_000} minutes, or its host's clock is behind) and may be writing parts under its shards: ` +
        'when that extract has ended, start a new coordinator and rerun every shard');
    }
  }
}

/** Shard `shard` of a sharded extract: copies its share of the plan's parts inside the held snapshot, then writes its fragment. */
export async function runShard(options: ExtractOptions & { shard: Shard; snapshotId?: string }): Promise<ExtractSummary> {
  const started = Date.now();
  const run = runStorage(options.store, options.run);
  const plan = await readPlan(run);
  if (options.snapshotId && options.snapshotId !== plan.snapshot_id) {
    throw new UserError(`--snapshot ${options.snapshotId} is not the snapshot of ${run.uri}/${EXTRACT_PLAN_KEY} (${plan.snapshot_id}): shards of a run join the snapshot its coordinator holds`);
  }
  const mine = unitsOfShard(plan.units, options.shard, (u) => u.bytes, unitId);
  await checkShardWrites(run, plan.lock);
  await run.removeLeftovers();
  options.log(`shard ${shardText(options.shard)}: ${mine.length} of ${plan.units.length} part(s) in snapshot ${plan.snapshot_id}`);
  const copied = await copyUnits(plan, mine, run, options);
  await checkShardWrites(run, plan.lock);
  await checkPlanKept(run, plan);
  await run.put(extractFragmentKey(options.shard), fragmentText(options.run, plan, options.shard, copied.map((c) => ({ table: c.unit.table, index: c.unit.index, part: c.part }))));
  return { ...summarize(options, run, plan, copied, started), shard: shardText(options.shard) };
}

/**
 * A shard whose plan was replaced while it copied (an extract of its own ran once
 * the coordinator had gone, or a new coordinator began) writes no fragment: its
 * parts are of a snapshot the run no longer plans, and may have replaced the other's.
 */
async function checkPlanKept(run: Storage, plan: ExtractPlan): Promise<void> {
  const now = await readPlan(run).catch(() => undefined);
  if (now?.snapshot_id === plan.snapshot_id) return;
  throw new UserError(`${run.uri}/${EXTRACT_PLAN_KEY} ${now ? `is now another coordinator's (snapshot ${now.snapshot_id})` : 'was removed by an extract of the run'} while this shard copied snapshot ${plan.snapshot_id}: ` +
    'it writes no fragment; the parts it wrote may have replaced that extract\'s, which transform then reports as a part that no longer matches its manifest entry (make extract TABLE=<table> copies it again)');
}

/** Merges the shards' fragments into the run's manifest, once every part of the plan is there exactly once. */
export async function finalizeExtract(options: Pick<ExtractOptions, 'store' | 'run' | 'log'>): Promise<ExtractManifest> {
  const run = runStorage(options.store, options.run);
  const plan = await readPlan(run);
  const parts = await collectFragments(run, plan);
  // Beside the coordinator's lock: finalize runs before the coordinator is stopped.
  const lock = await lockRun(run, 'finalize', options.log, { beside: plan.lock });
  let manifest: ExtractManifest;
  try {
    // Asked again under the lock: an extract of its own that ran since retired the plan, or a new coordinator replaced it.
    if ((await readPlan(run)).snapshot_id !== plan.snapshot_id) throw new UserError(`${run.uri}/${EXTRACT_PLAN_KEY} was replaced while finalize read the fragments: finalize again`);
    manifest = await buildManifest(run, plan, parts);
    // Sizes as the fragments recorded them, against the stored files: a part overwritten since is refused before publishing.
    await checkExtractFiles(run, manifest);
    await lock.check();
    await run.put(EXTRACT_MANIFEST_KEY, manifestText(manifest));
  } finally {
    await lock.release().catch(() => {});
  }
  options.log(`finalized ${plan.units.length} part(s) of ${plan.tables.length} table(s) from snapshot ${plan.snapshot_id} into ${run.uri}/${EXTRACT_MANIFEST_KEY}`);
  return manifest;
}

async function makePlan(snapshot: Snapshot, run: Storage, options: ExtractOptions, follow: FollowEntry | undefined, held: Held): Promise<ExtractPlan> {
  const selected = selectTables(await listSourceTables(snapshot.client, options.schemas), options.tables, options.schemas);
  // Once the tables are known good (a refused TABLE writes nothing), before any lock or COPY.
  await checkWritableAndLock(run, options, held);
  // Asked again under the lock: a FOLLOW=1 extract may have ended since openSnapshot asked.
  if (!follow) await refuseFollowedRun(run, options);
  // A table created between the publication and the snapshot would be copied but never followed.
  if (follow && selected.map((t) => t.name).join('\n') !== follow.tables.join('\n')) {
    throw new UserError(`the tables changed while the replication slot was created (publication ${follow.publication} has ${follow.tables.length}, the snapshot ${selected.length}): rerun the extract`);
  }
  // Before any table is opened (sizes and range planning included): none may be truncated or rewritten under the snapshot.
  await lockSnapshotTables(snapshot.client, selected, options.lockWaitSeconds ?? DEFAULT_LOCK_WAIT_SECONDS);
  // Its EXPLAIN of a table never analyzed locks the table's indexes: released (lib/postgres.ts releasingLocks).
  const tables = await releasingLocks(snapshot.client, () => readCatalog(snapshot.client, selected));
  const skipped = await skippedRelations(snapshot.client, options.schemas);
  for (const relation of skipped) options.log(`skipped ${relation.name}: ${relation.reason}`);
  const keptParts = await partsKept(run, tables, options);
  return {
    format: EXTRACT_PLAN_FORMAT,
    run_id: options.run,
    snapshot_id: snapshot.id,
    as_of: snapshot.asOf,
    server: snapshot.server,
    settings: snapshot.settings,
    options: { ...manifestOptions(options), ...(options.splitRows ? { split_rows: options.splitRows } : {}), ...(options.splitBytes ? { split_bytes: options.splitBytes } : {}) },
    ...(options.tables && options.tables.length > 0 ? { tables_selected: tables.map((t) => t.name) } : {}),
    ...(skipped.length > 0 ? { skipped } : {}),
    ...(follow ? { follow } : {}),
    lock: held.lock!.key,
    tables,
    units: await planUnits(snapshot, tables, { splitRows: options.splitRows, splitBytes: options.splitBytes, keptParts }, options.log),
  };
}

/**
 * Parts of the tables a `TABLE=` extract leaves as they are: their item files
 * go into the same ImportTable as the new parts', so they count toward its
 * object limit (extract/split.ts MAX_RUN_PARTS).
 */
export async function partsKept(run: Storage, tables: { name: string }[], options: Pick<ExtractOptions, 'tables'>): Promise<number> {
  if (!options.tables || options.tables.length === 0) return 0;
  const previous = await readExtractManifest(run, { checkFiles: false });
  const copied = new Set(tables.map((t) => t.name));
  return (previous?.tables ?? []).filter((t) => !copied.has(t.name)).reduce((n, t) => n + t.parts.length, 0);
}

function manifestOptions(options: ExtractOptions): ExtractManifest['options'] {
  return { format: options.format ?? 'csv', compression: options.compression ?? 'gzip', gzip_level: options.gzipLevel, schemas: options.schemas };
}

/** Resolves `--table` names against the catalog: user input never reaches SQL. */
export function selectTables<T extends SourceTable>(catalog: T[], wanted: string[] | undefined, schemas: string[]): T[] {
  if (!wanted || wanted.length === 0) {
    if (catalog.length === 0) throw new UserError(`no tables found in schema(s) ${schemas.join(', ')}`);
    return catalog;
  }
  // `public.users` names `users` too; a `.` inside a name is written %2E, as the manifest names it.
  const names = (t: SourceTable) => [t.name, `${qualifiedName('public', t.schema)}.${qualifiedName('public', t.table)}`];
  const unknown = wanted.filter((name) => !catalog.some((t) => names(t).includes(name)));
  if (unknown.length > 0) {
    throw new UserError(`no such table: ${unknown.map((n) => JSON.stringify(n)).join(', ')}; tables in ${schemas.join(', ')}: ${catalog.map((t) => t.name).join(', ') || '(none)'}`);
  }
  return catalog.filter((t) => wanted.some((name) => names(t).includes(name)));
}

/** The store's write check (lib/store-check.ts), bounded by --store-timeout. */
function checkWritable(run: Storage, options: ExtractOptions): Promise<void> {
  return checkStoreWritable(run, writeCheckKey('extract'), options.storeTimeoutSeconds ?? DEFAULT_STORE_TIMEOUT_SECONDS);
}

/** The message for a snapshot that cannot be joined: its coordinator has gone. */
function joinFailure(plan: ExtractPlan, err: unknown): Error {
  const message = errorMessage(err);
  if (!/invalid snapshot identifier|snapshot .* does not exist/i.test(message)) return err as Error;
  return new UserError(`snapshot ${plan.snapshot_id} is no longer held (${redact(message)}): its coordinator (extract snapshot --hold) must run until every shard is done; start a new coordinator and rerun every shard`);
}

/**
 * A pool of worker connections in the snapshot copies `units`, the largest
 * first; the first failure stops the others (the run will publish nothing).
 */
async function copyUnits(plan: ExtractPlan, units: CopyUnit[], run: Storage, options: ExtractOptions): Promise<CopiedPart[]> {
  const tables = new Map(plan.tables.map((t) => [t.name, t]));
  const queue = [...units].sort((a, b) => b.bytes - a.bytes || (unitId(a) < unitId(b) ? -1 : 1));
  const copied: CopiedPart[] = [];
  // Each worker joins the snapshot on its first unit and keeps that connection until it takes no more.
  const clients = new Map<number, PgClient>();
  // Rows are counted from COPY's newlines as they stream (a value may hold one): estimated until the part ends.
  // Parts are weighted by their estimated size, for an approximate % and ETA.
  const progress = new Progress(units.length, 0, { what: 'rows', unitName: 'parts', weights: new Map(units.map((u) => [unitName(u), u.bytes])) });

  const copyUnit = async (unit: CopyUnit, worker: number, signal: AbortSignal): Promise<void> => {
    const label = unitName(unit);
    let client = clients.get(worker);
    if (!client) {
      client = await joinSnapshot(options.databaseUrl, plan.snapshot_id).catch((err) => { throw joinFailure(plan, err); });
      clients.set(worker, client);
    }
    // A worker still joining when another failed was not among the connections ended then: it
    // must not start its COPY (the largest tables go first), or the error waits for that table.
    if (signal.aborted) return;
    const table = tables.get(unit.table)!;
    const db = client;
    const started = Date.now();
    // Locks released once the part is copied (its index locks: a REINDEX of a table already copied would wait for
    // the extract, holding its table's writes back, and the next part's planning would wait behind it, forever);
    // the coordinator's lock on the table stays.
    const part = await releasingLocks(db, async () => {
      // Its own errors name the table and say what to do; a lost connection gets the table's name.
      await lockForCopy(db, table).catch((err) => { throw err instanceof UserError ? err : new UserError(`table ${label}: ${redact(errorMessage(err))}`); });
      if (signal.aborted) return undefined;
      progress.start(label);
      debug(`${label}: COPY of ${table.columns.length} column(s) in snapshot ${plan.snapshot_id}`);
      let entry: PartEntry;
      try {
        entry = await copyTable(db, table, unit, run, { compression: plan.options.compression, level: plan.options.gzip_level }, (rows, bytes) => progress.update(label, rows, bytes), plan.options.format);
      } catch (err) {
        throw new UserError(`table ${label}: ${redact(errorMessage(err))}`);
      }
      // Asked again: a schema renamed between lockForCopy's check and the COPY's start had it read another table.
      // And its types, which ALTER TYPE changes under any lock: COPY printed values with them as they are now.
      await checkName(db, table).then(() => checkTypes(db, table)).catch((err) => { throw err instanceof UserError ? err : new UserError(`table ${label}: ${redact(errorMessage(err))}`); });
      return entry;
    });
    if (!part) return;
    progress.finish(label, part.rows);
    const took = (Date.now() - started) / 1000;
    const stored = [part.key.endsWith('.parquet') ? `${formatBytes(part.bytes)} Parquet` : `${formatBytes(part.bytes)} ${plan.options.compression}`];
    if (part.parquet && part.parquet.key !== part.key) stored.push(`${formatBytes(part.parquet.bytes)} Parquet`);
    options.log(`${label}: ${part.rows} rows, ${formatBytes(part.raw_bytes)} → ${stored.join(' + ')} in ${took.toFixed(1)} s (${formatBytes(part.raw_bytes / Math.max(took, 0.001))}/s)`);
    copied.push({ unit, part, seconds: took });
  };
  await runPool(queue, options.concurrency, async (unit, { worker, signal }) => {
    try {
      await copyUnit(unit, worker, signal);
    } catch (err) {
      // The first failure stops the other workers' COPYs: the run has failed and will publish no manifest.
      if (!signal.aborted) for (const [other, client] of clients) if (other !== worker) client.end().catch(() => {});
      throw err;
    }
  }, {
    onWorkerDone: async (worker) => {
      const client = clients.get(worker);
      clients.delete(worker);
      await client?.end().catch(() => {});
    },
  });
  return copied.sort((a, b) => (unitId(a.unit) < unitId(b.unit) ? -1 : 1));
}

/** The manifest from the plan and every unit's part. A `TABLE=` run replaces only its tables' entries; the run keeps its own `as_of`. */
async function buildManifest(run: Storage, plan: ExtractPlan, parts: Map<string, PartEntry>): Promise<ExtractManifest> {
  const entries = plan.tables.map((table) => tableEntry(table, plan, plan.units.filter((u) => u.table === table.name).map((u) => parts.get(unitId(u))!)));
  const previous = plan.tables_selected ? await readExtractManifest(run, { checkFiles: false }) : undefined;
  const fresh = new Set(entries.map((e) => e.name));
  const tables = [...(previous?.tables.filter((t) => !fresh.has(t.name)) ?? []), ...entries];
  const snapshotId = previous?.snapshot_id ?? plan.snapshot_id;
  const manifest: ExtractManifest = {
    format: EXTRACT_FORMAT,
    run_id: plan.run_id,
    as_of: previous?.as_of ?? plan.as_of,
    snapshot_id: snapshotId,
    consistent: tables.every((t) => t.snapshot_id === snapshotId),
    server: plan.server,
    settings: plan.settings,
    options: { format: plan.options.format, compression: plan.options.compression, gzip_level: plan.options.gzip_level, schemas: plan.options.schemas },
    ...(plan.skipped ? { skipped: plan.skipped } : {}),
    ...(plan.follow ?? previous?.follow ? { follow: plan.follow ?? previous?.follow } : {}),
    tables,
  };
  return manifest;
}

function tableEntry(table: CatalogTable, plan: ExtractPlan, parts: PartEntry[]): TableEntry {
  return {
    name: table.name,
    schema: table.schema,
    table: table.table,
    as_of: plan.as_of,
    snapshot_id: plan.snapshot_id,
    columns: table.columns.map(({ collatable: _collatable, ...column }) => column),
    primary_key: table.primary_key,
    order_by: table.primary_key.length > 0 ? table.primary_key : table.columns.map((c) => c.name),
    ...(table.primary_key.length === 0 ? { no_primary_key: true as const } : {}),
    rows: sum(parts.map((p) => p.rows)),
    raw_bytes: sum(parts.map((p) => p.raw_bytes)),
    bytes: sum(parts.map((p) => p.bytes)),
    parts,
  };
}

/** Per table: rows, bytes and COPY seconds of the parts this invocation copied. */
function summarize(options: ExtractOptions, run: Storage, plan: Pick<ExtractPlan, 'as_of' | 'server'>, copied: CopiedPart[], started: number): ExtractSummary {
  const byTable = new Map<string, ExtractSummary['tables'][number]>();
  for (const { unit, part, seconds } of copied) {
    const t = byTable.get(unit.table) ?? { name: unit.table, rows: 0, raw_bytes: 0, bytes: 0, seconds: 0 };
    t.rows += part.rows;
    t.raw_bytes += part.raw_bytes;
    t.bytes += part.bytes;
    t.seconds += seconds;
    byTable.set(unit.table, t);
  }
  const tables = [...byTable.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  return {
    run: options.run,
    store: run.uri,
    as_of: plan.as_of,
    server_version: plan.server.version,
    tables,
    rows: sum(tables.map((t) => t.rows)),
    raw_bytes: sum(tables.map((t) => t.raw_bytes)),
    bytes: sum(tables.map((t) => t.bytes)),
    seconds: (Date.now() - started) / 1000,
  };
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
