// A sharded verify (issue 16), as extract and transform shard: shard i of n
// scans its share of the Scan segments and reads its share of the run's item
// files, and stores both sides as sorted record files beside a fragment,
// `verify/shards/shard-000i-of-000n.json`. `finalize` checks that every shard
// reported exactly once (every segment and every item file in one fragment),
// then merges the shards' files as an unsharded verify merges its own.
import { Readable } from 'node:stream';
import { UserError } from '../lib/errors.ts';
import { readManifest } from '../lib/manifest.ts';
import { claimsOf, fragmentKeys, shardText, unitsOfShard, type Shard } from '../lib/shard.ts';
import type { Storage } from '../lib/storage.ts';
import { mergeRecords, mergeSources, readRecords } from './sorted-records.ts';
import { RUN_RECORD_BYTES, TABLE_RECORD_BYTES, type RunUnit, type TableRecord } from './items.ts';
import type { Consistency } from '../lib/verify-report.ts';
import { VERIFY_SHARDS_PREFIX, verifyFragmentKey } from '../lib/run-layout.ts';

export const VERIFY_SHARD_FORMAT = 'pg2ddb.verify-shard/1';

export interface VerifyShardFragment {
  format: typeof VERIFY_SHARD_FORMAT;
  run_id: string;
  table_name: string;
  /** The transform manifest compared with (its sha256), and the TABLE= selection. */
  transform_manifest_sha256: string;
  tables: string[];
  shard: string;
  /** How this shard's Scan read (absent in fragments of before: strong). */
  consistency?: Consistency;
  total_segments: number;
  segments: number[];
  /** The item files read (their keys). */
  units: string[];
  in_table: number;
  counts: Record<string, number>;
  types: string[];
  table_records: { key: string; count: number };
  run_records: { key: string; count: number };
  started_at: string;
  finished_at: string;
}

/** Shard `shard`'s Scan segments: `perShard` consecutive ones of n × perShard. */
export function segmentsOfShard(shard: Shard | undefined, perShard: number): { segments: number[]; total: number } {
  const count = shard?.count ?? 1;
  const first = ((shard?.index ?? 1) - 1) * perShard;
  return { segments: Array.from({ length: perShard }, (_, i) => first + i), total: count * perShard };
}

/** The indexes (into `units`) of the item files shard `shard` reads, balanced by bytes as transform's units are. */
export function unitIndexesOfShard(units: RunUnit[], shard: Shard | undefined): number[] {
  const indexed = units.map((unit, index) => ({ unit, index }));
  return unitsOfShard(indexed, shard, (u) => u.unit.part.raw_bytes, (u) => u.unit.part.key).map((u) => u.index).sort((a, b) => a - b);
}

/** A sorted record stream as the bytes of an object, in 256 KiB writes. */
export function recordBytes(records: AsyncIterable<Buffer>, recordBytes: number): Readable {
  return Readable.from((async function* () {
    const size = Math.floor((256 * 1024) / recordBytes) * recordBytes;
    let chunk = Buffer.allocUnsafe(size);
    let used = 0;
    for await (const record of records) {
      record.copy(chunk, used, 0, recordBytes);
      used += recordBytes;
      if (used === size) { yield chunk; chunk = Buffer.allocUnsafe(size); used = 0; }
    }
    if (used > 0) yield chunk.subarray(0, used);
  })(), { objectMode: false });
}

export async function writeFragment(run: Storage, fragment: Omit<VerifyShardFragment, 'format'>): Promise<void> {
  await run.put(verifyFragmentKey(parseLabel(fragment.shard)), `${JSON.stringify({ format: VERIFY_SHARD_FORMAT, ...fragment }, null, 2)}\n`);
}

/**
 * Replaces shard `shard`'s fragment of an earlier verify, if any, by a mark that
 * it started: killed from here on, finalize names it as not reported, never
 * merges what it read the time before.
 */
export async function markStarted(run: Storage, runId: string, shard: Shard, startedAt: Date): Promise<void> {
  await run.put(verifyFragmentKey(shard), `${JSON.stringify({ format: VERIFY_SHARD_FORMAT, run_id: runId, shard: shardText(shard), started_at: startedAt.toISOString(), unfinished: true }, null, 2)}\n`);
}

function parseLabel(text: string): Shard {
  const [index, count] = text.split('/').map(Number);
  return { index: index!, count: count! };
}

export interface ShardedSides {
  fragments: VerifyShardFragment[];
  in_table: number;
  counts: Map<string, number>;
  /** eventual when any shard read eventually consistent. */
  consistency: Consistency;
  tableSide: AsyncIterable<TableRecord>;
  runSide: AsyncIterable<Buffer>;
}

/**
 * The fragments of the verify of `tableName` against this transform, checked
 * complete: one shard count, every shard once, every segment and item file in
 * exactly one fragment, none begun before `notBefore` (the table's last load,
 * or an unsharded verify since, whose report a finalize would overwrite).
 * Refusals name the shards to rerun.
 */
export async function readShards(
  run: Storage, tableName: string, manifestSha256: string, tables: string[], units: RunUnit[], notBefore: { at: string; what: string },
): Promise<ShardedSides> {
  const keys = await fragmentKeys(run, VERIFY_SHARDS_PREFIX);
  if (keys.length === 0) throw new UserError(`no verify shard fragments under ${run.uri}/${VERIFY_SHARDS_PREFIX}/: run verify --shard i/n (make verify SHARD=i/n) first`);
  const fragments: VerifyShardFragment[] = [];
  for (const key of keys) {
    const fragment = await readManifest<VerifyShardFragment & { unfinished?: true }>(run, key, VERIFY_SHARD_FORMAT);
    if (!fragment || fragment.unfinished) continue;
    const stale = fragment.table_name !== tableName ? `table ${fragment.table_name}, not ${tableName}`
      : fragment.transform_manifest_sha256 !== manifestSha256 ? 'an earlier transform of the run'
        : fragment.tables.join(',') !== tables.join(',') ? `TABLE=${fragment.tables.join(',') || '(all)'}`
          : fragment.started_at < notBefore.at ? `a verify begun at ${fragment.started_at}, before ${notBefore.what}` : undefined;
    if (stale) throw new UserError(`verify fragment ${key} is of ${stale}: remove ${run.uri}/${VERIFY_SHARDS_PREFIX}/ and rerun the shards`);
    fragments.push(fragment);
  }
  if (fragments.length === 0) throw new UserError(`no verify shard under ${run.uri}/${VERIFY_SHARDS_PREFIX}/ has finished: rerun the shards (make verify SHARD=i/n), then finalize`);
  const counts = new Set(fragments.map((f) => parseLabel(f.shard).count));
  if (counts.size > 1) throw new UserError(`verify fragments of several shard counts (${[...counts].join(', ')}) under ${run.uri}/${VERIFY_SHARDS_PREFIX}/: remove the fragments of the count you abandoned and finalize again`);
  const n = [...counts][0]!;
  const reported = new Set(fragments.map((f) => parseLabel(f.shard).index));
  const absent = Array.from({ length: n }, (_, i) => i + 1).filter((i) => !reported.has(i));
  if (absent.length > 0) {
    throw new UserError(`verify is not complete: shard(s) ${absent.map((i) => `${i}/${n}`).join(', ')} of ${n} did not report; rerun them (make verify SHARD=${absent[0]}/${n}), then finalize`);
  }
  const totals = new Set(fragments.map((f) => f.total_segments));
  if (totals.size > 1) throw new UserError(`verify shards scanned different segment counts (${[...totals].join(', ')}): run every shard with the same CONCURRENCY`);
  const total = [...totals][0]!;
  const segments = claimsOf(fragments.map((f) => ({ shard: f.shard, entries: f.segments })), (s) => String(s), (s) => `segment ${s}`);
  const files = claimsOf(fragments.map((f) => ({ shard: f.shard, entries: f.units })), (u) => u, (u) => u);
  const doubled = [...segments.doubled, ...files.doubled];
  if (doubled.length > 0) throw new UserError(`verify shards read some things twice: ${doubled.slice(0, 10).join('; ')}`);
  const unscanned = Array.from({ length: total }, (_, i) => i).filter((s) => !segments.first.has(String(s)));
  const unread = units.filter((u) => !files.first.has(u.part.key)).map((u) => u.part.key);
  if (unscanned.length > 0 || unread.length > 0) {
    throw new UserError(`verify shards left out ${unscanned.length} segment(s) and ${unread.length} item file(s) (${[...unscanned.map((s) => `segment ${s}`), ...unread].slice(0, 10).join(', ')}): rerun every shard with the same CONCURRENCY`);
  }

  const merged = new Map<string, number>();
  for (const f of fragments) for (const [type, c] of Object.entries(f.counts)) merged.set(type, (merged.get(type) ?? 0) + c);
  const stream = (f: VerifyShardFragment, side: 'table' | 'run') => counted(run, side === 'table' ? f.table_records : f.run_records, side === 'table' ? TABLE_RECORD_BYTES : RUN_RECORD_BYTES);
  return {
    fragments,
    in_table: fragments.reduce((sum, f) => sum + f.in_table, 0),
    counts: merged,
    consistency: fragments.some((f) => f.consistency === 'eventual') ? 'eventual' : 'strong',
    tableSide: (async function* () {
      for await (const { record, source } of mergeSources(fragments.map((f) => stream(f, 'table')))) yield { record, types: fragments[source]!.types };
    })(),
    runSide: mergeRecords(fragments.map((f) => stream(f, 'run'))),
  };
}

/** A shard's record file, refused unless it holds exactly the records its fragment counted. */
async function* counted(run: Storage, file: { key: string; count: number }, bytes: number): AsyncGenerator<Buffer> {
  let n = 0;
  for await (const record of readRecords(await run.get(file.key), bytes, `${run.uri}/${file.key}`)) { n++; yield record; }
  if (n !== file.count) throw new UserError(`${run.uri}/${file.key} holds ${n} records where its fragment says ${file.count}: rerun that shard`);
}
