// `status`: where a run stands, per table and stage (like pgcopydb's `list
// progress`), read from the manifests and load records alone: done, stale,
// missing or failed, with rows, items and rejects, and the next command.
import { UserError } from '../lib/errors.ts';
import { staleTables } from '../lib/freshness.ts';
import { formatBytes } from '../lib/log.ts';
import { type ExtractManifest } from '../lib/manifest.ts';
import { tableWord } from '../lib/output.ts';
import { fragmentKeys } from '../lib/shard.ts';
import type { Storage } from '../lib/storage.ts';
import { type TransformManifest } from '../lib/transform-manifest.ts';
import { itemsDigest, type LoadedTables } from '../lib/loaded-tables.ts';
import { type VerifyReport } from '../lib/verify-report.ts';
import { runningExtracts } from '../lib/run-lock.ts';
import { EXTRACT_MANIFEST_KEY, EXTRACT_PLAN_KEY, EXTRACT_SHARDS_PREFIX, loadedKey, TRANSFORM_MANIFEST_KEY, TRANSFORM_SHARDS_PREFIX, VERIFY_REPORT_KEY } from '../lib/run-layout.ts';

export type StageState = 'done' | 'stale' | 'missing' | 'failed' | 'skipped';

export interface TableStatus {
  name: string;
  extract: StageState;
  transform: StageState;
  load: StageState;
  verify: StageState;
  rows?: number;
  items?: number;
  rejected?: number;
  dropped?: number;
  /** Why a stage is stale or failed. */
  notes: string[];
}

export interface RunStatus {
  format: 'pg2ddb.status/1';
  run_id: string;
  table_name: string;
  /** The snapshot instant of the extract. */
  as_of?: string;
  consistent?: boolean;
  tables: TableStatus[];
  /** A sharded stage not finalized yet: how many shards it has and which have written their fragment. */
  shards?: ShardsDone;
  /** Extracts writing the run now (their live locks, lib/run-lock.ts); `coordinator`: a sharded extract's, holding its snapshot. */
  extracts_running?: { what: string; host: string; pid: number; started: string; renewed: string; coordinator: boolean; finalized?: boolean }[];
  /** The command that moves the run forward, or undefined when every stage is done. */
  next?: string;
  /**
   * A FOLLOW=1 run: its replication slot and the WAL it keeps on the source
   * (the one thing status asks the database; `error` when it could not).
   */
  follow?: { slot: string; exists?: boolean; retained_bytes?: number; lag_bytes?: number; warning?: string; error?: string };
}

export interface ShardsDone { stage: 'extract' | 'transform'; count: number; done: number[] }

/**
 * The shards of a sharded stage that have finished (written their fragment
 * `shard-000i-of-000n.json`); an extract fragment of another snapshot than the
 * plan's does not count, as finalize ignores it.
 */
async function shardsDone(run: Storage, stage: ShardsDone['stage'], snapshotId?: string): Promise<ShardsDone | undefined> {
  let count = 0;
  const done = new Set<number>();
  for (const key of await fragmentKeys(run, stage === 'extract' ? EXTRACT_SHARDS_PREFIX : TRANSFORM_SHARDS_PREFIX)) {
    const match = /shard-(\d+)-of-(\d+)\.json$/.exec(key);
    if (!match) continue;
    if (snapshotId !== undefined && (await readJson<{ snapshot_id?: string }>(run, key))?.value.snapshot_id !== snapshotId) continue;
    count = Math.max(count, Number(match[2]));
    done.add(Number(match[1]));
  }
  return count > 0 ? { stage, count, done: [...done].sort((a, b) => a - b) } : undefined;
}

/** A record of the run, or undefined when absent; one that is not JSON (cut short, hand-edited) is named, never shown as missing. */
async function readJson<T>(run: Storage, key: string): Promise<{ value: T; text: string } | undefined> {
  const text = await run.getText(key);
  if (text === undefined) return undefined;
  try {
    return { value: JSON.parse(text) as T, text };
  } catch {
    throw new UserError(`${run.uri}/${key} is not valid JSON: restore it, or rerun the stage that writes it`);
  }
}

export async function runStatus(run: Storage, runId: string, tableName: string): Promise<RunStatus> {
  const extract = await readJson<ExtractManifest>(run, EXTRACT_MANIFEST_KEY);
  const transform = (await readJson<TransformManifest>(run, TRANSFORM_MANIFEST_KEY))?.value;
  const loaded = (await readJson<LoadedTables>(run, loadedKey(tableName)))?.value;
  const verify = (await readJson<VerifyReport>(run, VERIFY_REPORT_KEY))?.value;
  // A stage sharded and not finalized has no manifest yet, or an earlier one (its coordinator holds a re-extract): its shards say how far it got.
  const planRecord = (await readJson<{ snapshot_id: string; as_of: string; lock?: string }>(run, EXTRACT_PLAN_KEY))?.value;
  const running = await extractsRunning(run, planRecord, extract?.value.snapshot_id);
  const writing = running.find((r) => !r.coordinator);
  const plan = !extract || running.some((r) => r.coordinator && !r.finalized) ? planRecord : undefined;
  const shards = plan ? await shardsDone(run, 'extract', plan.snapshot_id)
    : extract && !transform ? await shardsDone(run, 'transform') : undefined;

  const stale = new Map(extract && transform ? staleTables(extract.value, extract.text, transform).map((s) => [s.table, s.reason]) : []);
  const names = [...new Set([...(extract?.value.tables ?? []).map((t) => t.name), ...(transform?.tables ?? []).map((t) => t.name)])].sort();
  // A failure names its table, or its entity_type (counts): either marks that table failed.
  const failedNames = new Set((verify?.checks ?? []).flatMap((c) => c.failures.flatMap((f) => [f.table, f.entity_type])));
  const verifyFailed = new Set((transform?.tables ?? []).filter((t) => failedNames.has(t.name) || failedNames.has(t.entity_type)).map((t) => t.name));
  const verifiedRun = verify?.table_name === tableName ? verify : undefined;

  const tables = names.map((name): TableStatus => {
    const source = extract?.value.tables.find((t) => t.name === name);
    const items = transform?.tables.find((t) => t.name === name);
    const status: TableStatus = { name, extract: source ? 'done' : 'missing', transform: 'missing', load: 'missing', verify: 'missing', notes: [] };
    if (source) status.rows = source.rows;
    if (items) Object.assign(status, { items: items.items_out, rejected: items.rejected, dropped: items.dropped });
    if (items?.mapping === 'skip') return { ...status, transform: 'skipped', load: 'skipped', verify: 'skipped' };
    if (items) {
      const reason = stale.get(name);
      const incomplete = source && items.parts.length < source.parts.length;
      status.transform = reason ? 'stale' : incomplete ? 'failed' : 'done';
      if (reason) status.notes.push(`transform: ${reason}`);
      else if (incomplete) status.notes.push(`transform: ${items.parts.length} of ${source.parts.length} parts done`);
    } else if (stale.has(name)) {
      status.transform = 'missing';
    }
    const record = loaded?.tables[name];
    if (record && items) {
      status.load = record.items_sha256 === itemsDigest(items) && status.transform === 'done' ? 'done' : 'stale';
      if (status.load === 'stale') status.notes.push(`load: ${tableName} holds items from another transform`);
    }
    // A `TABLE=` verify says nothing of the tables it did not check.
    const checked = !verifiedRun?.tables || verifiedRun.tables.includes(name);
    if (verifiedRun && record && !checked) status.notes.push(`verify: the latest verify (TABLE=${verifiedRun.tables!.join(',')}) did not check it`);
    else if (verifiedRun && record && status.load !== 'done') status.verify = 'stale';
    else if (verifiedRun && record) {
      // A failed verify that names no table (a stray item) fails every table.
      status.verify = verifiedRun.checked_at < record.loaded_at ? 'stale'
        : verifiedRun.ok ? 'done'
          : verifyFailed.has(name) || verifyFailed.size === 0 ? 'failed' : 'done';
      if (status.verify === 'stale') status.notes.push('verify: ran before the last load');
    }
    return status;
  });

  return {
    format: 'pg2ddb.status/1', run_id: runId, table_name: tableName,
    ...(extract ? { as_of: extract.value.as_of, consistent: extract.value.consistent } : {}),
    tables, ...(shards ? { shards } : {}), ...(running.length > 0 ? { extracts_running: running } : {}),
    // The manifests say what was; an extract under way will change them.
    next: writing ? `wait for the extract under way (${writing.what}; host ${writing.host}, pid ${writing.pid}) to end, then make status RUN=${runId} again`
      : shards ? shardsNext(runId, shards) : plan ? `make extract RUN=${runId} SHARD=i/n on each of n machines, then make finalize RUN=${runId} STAGE=extract`
        : nextCommand(runId, tableName, tables, !!extract, transform),
  };
}

/** The extracts whose lock is live; the one whose lock the plan names is its coordinator, finalized once the manifest is of its snapshot. */
async function extractsRunning(run: Storage, plan: { lock?: string; snapshot_id: string } | undefined, manifestSnapshot: string | undefined): Promise<NonNullable<RunStatus['extracts_running']>> {
  const live = await runningExtracts(run);
  return live.map(({ key, lock }) => {
    const coordinator = key === plan?.lock;
    return { what: lock.what, host: lock.host, pid: lock.pid, started: lock.started, renewed: lock.renewed, coordinator, ...(coordinator ? { finalized: manifestSnapshot === plan.snapshot_id } : {}) };
  });
}

/** The next shard to run, or finalize once every shard is done. */
function shardsNext(runId: string, shards: ShardsDone): string {
  const missing = Array.from({ length: shards.count }, (_, i) => i + 1).filter((i) => !shards.done.includes(i));
  if (missing.length === 0) return `make finalize RUN=${runId} STAGE=${shards.stage}`;
  const others = missing.slice(1).map((i) => `${i}/${shards.count}`);
  return `make ${shards.stage} RUN=${runId} SHARD=${missing[0]}/${shards.count}${others.length ? ` (also SHARD=${others.join(', ')})` : ''}, then make finalize RUN=${runId} STAGE=${shards.stage}`;
}

/** The first stage not done, as the command that does it (for the tables it concerns). */
function nextCommand(runId: string, tableName: string, tables: TableStatus[], extracted: boolean, transform: TransformManifest | undefined): string | undefined {
  const run = `RUN=${runId}`;
  if (!extracted) return `make extract ${run}`;
  const pending = (stage: 'transform' | 'load' | 'verify') => tables.filter((t) => t[stage] !== 'done' && t[stage] !== 'skipped').map((t) => t.name);
  const scope = (names: string[]) => (names.length === tables.length ? '' : ` ${tableWord(names)}`);
  const transformNext = pending('transform');
  // A table gone from the extract leaves the transform only by a whole transform: `TABLE=` refuses a table the extract lacks.
  const gone = tables.some((t) => t.extract === 'missing' && t.transform === 'stale');
  if (transformNext.length > 0) return `make transform ${run}${gone ? '' : scope(transformNext)}`;
  if (transform && !transform.ready_for_load) return `see ${TRANSFORM_MANIFEST_KEY} problems: ${transform.problems.join('; ')}`;
  const loadNext = pending('load');
  if (loadNext.length > 0) return `make load ${run} DDB_TABLE=${tableName}${loadNext.length === tables.length ? '' : ` MODE=batch ${tableWord(loadNext)}`}`;
  const verifyNext = pending('verify');
  if (verifyNext.length > 0) return `make verify ${run} DDB_TABLE=${tableName}`;
  return undefined;
}

export function renderStatus(status: RunStatus): string {
  const header = ['table', 'extract', 'transform', 'load', 'verify', 'rows', 'items', 'rejected'];
  const rows = status.tables.map((t) => [t.name, t.extract, t.transform, t.load, t.verify, String(t.rows ?? ''), String(t.items ?? ''), String(t.rejected ?? '')]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 5 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [
    `run ${status.run_id}${status.as_of ? `, snapshot ${status.as_of}${status.consistent === false ? ' (some tables re-extracted later)' : ''}` : ', not extracted'}; DynamoDB table ${status.table_name}`,
    line(header),
    ...rows.map(line),
    ...status.tables.flatMap((t) => t.notes.map((n) => `  ${t.name}: ${n}`)),
    ...(status.follow ? [followLine(status.follow)] : []),
    ...(status.follow?.warning ? [status.follow.warning] : []),
    ...(status.shards ? [`${status.shards.stage}: sharded, not finalized; shard(s) done: ${status.shards.done.map((i) => `${i}/${status.shards!.count}`).join(', ') || 'none'}`] : []),
    ...(status.extracts_running ?? []).map((r) => `extract under way: ${r.what} (host ${r.host}, pid ${r.pid}, since ${r.started})${r.finalized ? '; finalized: stop it (Ctrl-C or SIGTERM) to release its snapshot' : ''}`),
    status.next ? `next: ${status.next}` : 'every stage is done',
  ];
  return `${out.join('\n')}\n`;
}

function followLine(follow: NonNullable<RunStatus['follow']>): string {
  if (follow.error) return `slot ${follow.slot}: WAL retained unknown (${follow.error})`;
  if (!follow.exists) return `slot ${follow.slot}: dropped (the source keeps no WAL for this run)`;
  return `slot ${follow.slot}: WAL retained ${formatBytes(follow.retained_bytes ?? 0)}, ${formatBytes(follow.lag_bytes ?? 0)} not yet caught up (make catchup)`;
}
