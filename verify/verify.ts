// `verify`: proof that the table holds exactly what PostgreSQL held.
// (a) counts per entity_type, (b) every item equal, (c) no strays (items.ts),
// (d) the entities' access patterns answer as the source says (access-patterns.ts). Each check reports
// its numbers and pass/fail; the report goes to `<run>/load/verify.json`.
// Sharded (shards.ts): each shard stores its sorted sides, finalize merges them.
import { DescribeTimeToLiveCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { runStorage } from '../lib/config.ts';
import { UserError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { readExtractManifest, type ExtractManifest } from '../lib/manifest.ts';
import { VALUE_TEXT_SETTINGS, connect, pinSettings } from '../lib/postgres.ts';
import { shardText, type Shard } from '../lib/shard.ts';
import type { Storage } from '../lib/storage.ts';
import { loadMappers } from '../model/registry.ts';
import { checkAccessPattern } from './access-patterns.ts';
import { describeError } from '../lib/dynamo-errors.ts';
import { readLoadableRun, type LoadableRun } from '../lib/item-files.ts';
import { requireLoadedFrom } from '../lib/loaded-tables.ts';
import { RecordSorter } from './sorted-records.ts';
import { describeTable } from '../lib/describe-table.ts';
import { checkTableName } from '../model/table-spec.ts';
import { TTL_ATTRIBUTE } from '../model/table.ts';
import {
  RUN_RECORD_BYTES, TABLE_RECORD_BYTES, compareSides, countCheck, readBothSides, readRunSide, runUnits, scanTableSide,
  type RunUnit, type TableSide,
} from './items.ts';
import { describeReadCost } from './price.ts';
import { type Check, type Consistency, type VerifyReport } from '../lib/verify-report.ts';
import { markStarted, readShards, recordBytes, segmentsOfShard, unitIndexesOfShard, writeFragment } from './shards.ts';
import { shardFileKey, VERIFY_REPORT_KEY } from '../lib/run-layout.ts';

export interface VerifyOptions {
  store: string;
  run: string;
  tableName: string;
  /** Only these source tables' entities; empty: the whole table. */
  tables?: string[];
  /** Scan segments (per shard) and item files read at once. */
  concurrency: number;
  /** Source database for (d); `false` skips the access-pattern checks. */
  databaseUrl: string | undefined | false;
  sampleSize: number;
  /** Strong (default) or eventually consistent reads: eventual halves the read units. */
  consistency?: Consistency;
  /** The model's entity directory whose access patterns (d) checks (default: the shipped model/entities/). */
  entities?: string;
  log: Logger;
  dynamo?: Pick<DynamoDBClient, 'send'>;
}

interface Prepared {
  run: Storage;
  extract: ExtractManifest;
  loadable: LoadableRun;
  client: Pick<DynamoDBClient, 'send'>;
  units: RunUnit[];
  only?: Set<string>;
  consistent: boolean;
  selected: string[];
  /** The table's TTL deletes expired items: only then is an expired item missing from it not lost. */
  ttlOn: boolean;
  /** When the table was last loaded from the run: shard fragments of a verify begun before then are stale. */
  loadedAt: string;
}

/** What every form of verify checks first: the run is loadable, the table exists and was loaded from it. */
async function prepare(options: VerifyOptions): Promise<Prepared> {
  checkTableName(options.tableName);
  const run = runStorage(options.store, options.run);
  const extract = await readExtractManifest(run);
  if (!extract) throw new UserError(`no extract manifest in ${run.uri}: verify compares the table with run ${options.run}'s extract and transform`);
  const loadable = await readLoadableRun(run, options.run, options.tables, 'verify');
  const client = options.dynamo ?? dynamoClient();
  if (!(await describeTable(client, options.tableName))) throw new UserError(`DynamoDB table ${options.tableName} does not exist: run the load first`);
  const loadedAt = await requireLoadedFrom(run, options.run, options.tableName, loadable.tables);
  const selected = (options.tables ?? []).filter((t) => t !== '');
  const only = selected.length > 0
    ? new Set(loadable.tables.map((t) => t.entity_type).filter((e): e is string => !!e)) : undefined;
  const ttl = (await client.send(new DescribeTimeToLiveCommand({ TableName: options.tableName }))
    .catch((err: unknown) => { throw new UserError(`cannot describe the TTL of ${options.tableName}: ${describeError(err)}`); })).TimeToLiveDescription;
  const ttlOn = ttl?.AttributeName === TTL_ATTRIBUTE && ttl.TimeToLiveStatus !== 'DISABLED';
  return { run, extract, loadable, client, units: runUnits(loadable.tables), only, consistent: (options.consistency ?? 'strong') === 'strong', selected, ttlOn, loadedAt };
}

/** Scans the shard's segments and reads its item files at once, each side into its own sorter. */
async function readSides(options: VerifyOptions, p: Prepared, shard: Shard | undefined): Promise<{ tableSorter: RecordSorter; runSorter: RecordSorter; side: TableSide; segments: number[]; total: number; unitIndexes: number[] }> {
  const { segments, total } = segmentsOfShard(shard, options.concurrency);
  const unitIndexes = unitIndexesOfShard(p.units, shard);
  for (const line of describeReadCost(p.loadable.manifest, shard, options.consistency ?? 'strong')) options.log(line);
  options.log(`scanning ${options.tableName} (${segments.length} of ${total} segments) and reading ${unitIndexes.length} of ${p.units.length} item file(s) of run ${options.run}`);
  const tableSorter = new RecordSorter(TABLE_RECORD_BYTES);
  const runSorter = new RecordSorter(RUN_RECORD_BYTES);
  try {
    const side = await readBothSides(
      (signal) => scanTableSide(p.client, options.tableName, segments, total, p.consistent, p.only, tableSorter, signal),
      (signal) => readRunSide(p.run, p.units, unitIndexes, options.concurrency, runSorter, p.ttlOn, signal),
    );
    return { tableSorter, runSorter, side, segments, total, unitIndexes };
  } catch (err) {
    tableSorter.close();
    runSorter.close();
    throw err;
  }
}

export async function runVerify(options: VerifyOptions): Promise<VerifyReport> {
  const started = Date.now();
  const p = await prepare(options);
  const { tableSorter, runSorter, side } = await readSides(options, p, undefined);
  try {
    const types = side.types;
    const tableSide = (async function* () { for await (const record of tableSorter.sorted()) yield { record, types }; })();
    return await conclude(options, p, started, side.in_table, new Map(Object.entries(side.counts)), tableSide, runSorter.sorted());
  } finally {
    tableSorter.close();
    runSorter.close();
  }
}

/** Shard i/n: its segments and item files, stored sorted, then its fragment (last: only then has it reported). */
export async function runVerifyShard(options: VerifyOptions & { shard: Shard }): Promise<{ shard: string; segments: number; item_files: number; items_scanned: number; run_items: number }> {
  const startedAt = new Date();
  const p = await prepare(options);
  // An earlier fragment of this shard goes first: killed from here on, the shard is missing, not stale.
  await markStarted(p.run, options.run, options.shard, startedAt);
  const { tableSorter, runSorter, side, segments, total, unitIndexes } = await readSides(options, p, options.shard);
  try {
    const tableKey = shardFileKey(options.shard, 'table');
    const runKey = shardFileKey(options.shard, 'run');
    await p.run.put(tableKey, recordBytes(tableSorter.sorted(), TABLE_RECORD_BYTES));
    await p.run.put(runKey, recordBytes(runSorter.sorted(), RUN_RECORD_BYTES));
    await writeFragment(p.run, {
      run_id: options.run, table_name: options.tableName, transform_manifest_sha256: p.loadable.manifestSha256, tables: p.selected,
      shard: shardText(options.shard), consistency: options.consistency ?? 'strong', total_segments: total, segments,
      units: unitIndexes.map((i) => p.units[i]!.part.key),
      in_table: side.in_table, counts: side.counts, types: side.types,
      table_records: { key: tableKey, count: tableSorter.total }, run_records: { key: runKey, count: runSorter.total },
      started_at: startedAt.toISOString(), finished_at: new Date().toISOString(),
    });
    return { shard: shardText(options.shard), segments: segments.length, item_files: unitIndexes.length, items_scanned: side.in_table, run_items: runSorter.total };
  } finally {
    tableSorter.close();
    runSorter.close();
  }
}

/** Every shard reported exactly once: the merged verdict, as one process would give it. */
export async function finalizeVerify(options: VerifyOptions): Promise<VerifyReport> {
  const p = await prepare(options);
  // Fragments older than the table's last load, or than an unsharded verify since (a finalize
  // would replace its newer verdict with theirs), read a table that is no longer there.
  let notBefore = { at: p.loadedAt, what: `the load of ${p.loadedAt}` };
  // A read that fails (AccessDenied, say) fails finalize: passed over, an older verdict could replace a newer one.
  const lastText = await p.run.getText(VERIFY_REPORT_KEY);
  const last = (() => { try { return lastText ? JSON.parse(lastText) as Partial<VerifyReport> : undefined; } catch { return undefined; } })();
  if (last?.checked_at && last.shards === undefined && last.table_name === options.tableName && last.checked_at > notBefore.at) {
    notBefore = { at: last.checked_at, what: `the unsharded verify of ${last.checked_at}` };
  }
  const sharded = await readShards(p.run, options.tableName, p.loadable.manifestSha256, p.selected, p.units, notBefore);
  const started = Math.min(...sharded.fragments.map((f) => Date.parse(f.started_at)));
  options.log(`merging ${sharded.fragments.length} shard(s) of the verify of ${options.tableName}`);
  // The report says how the shards read, not what finalize was told: eventual if any shard read so.
  return conclude({ ...options, consistency: sharded.consistency }, p, started, sharded.in_table, sharded.counts, sharded.tableSide, sharded.runSide, sharded.fragments.length);
}

/** The merge of both sides, the access patterns, and the report. */
async function conclude(
  options: VerifyOptions, p: Prepared, started: number, inTable: number, counts: Map<string, number>,
  tableSide: Parameters<typeof compareSides>[5], runSide: AsyncIterable<Buffer>, shards?: number,
): Promise<VerifyReport> {
  const checks: Check[] = [];
  const record = (check: Check) => {
    checks.push(check);
    const numbers = Object.entries(check.numbers).filter(([k]) => !k.includes('.')).map(([k, v]) => `${k} ${v}`).join(', ');
    options.log(`${check.ok ? 'PASS' : 'FAIL'} ${check.name}: ${numbers}${check.note ? ` (${check.note})` : ''}`);
    for (const f of check.failures) options.log(`  ${JSON.stringify(f)}`);
  };
  const { check, stray, expired } = await compareSides(p.client, p.run, options.tableName, p.units, inTable, tableSide, runSide, p.consistent);
  record(countCheck(p.loadable.tables, counts, expired, p.only));
  record(check);
  record(stray);

  if (options.databaseUrl !== false) {
    const present = new Set(p.loadable.tables.map((t) => t.name));
    const entities = [...(await loadMappers(options.entities)).values()].map((m) => m.mapper)
      .filter((mapper) => present.has(mapper.table) && (mapper.accessPatterns ?? []).length > 0);
    if (entities.length > 0) {
      const db = await connect(options.databaseUrl, 'pg2ddb-verify');
      try {
        // Values print as COPY printed them for the extract, so keys render alike.
        await pinSettings(db, VALUE_TEXT_SETTINGS);
        for (const mapper of entities) {
          const entry = p.extract.tables.find((t) => t.name === mapper.table)!;
          for (const pattern of mapper.accessPatterns!) {
            record(await checkAccessPattern(pattern, mapper, entry, p.extract.tables, db, p.client, options.tableName, options.sampleSize));
          }
        }
      } finally {
        await db.end().catch(() => {});
      }
    }
  }

  const report: VerifyReport = {
    format: 'pg2ddb.verify/1', run_id: options.run, table_name: options.tableName,
    checked_at: new Date().toISOString(), seconds: (Date.now() - started) / 1000,
    consistency: options.consistency ?? 'strong',
    ...(shards !== undefined ? { shards } : {}),
    ok: checks.every((c) => c.ok),
    ...(p.only ? { tables: p.loadable.tables.map((t) => t.name) } : {}),
    checks,
  };
  await p.run.put(VERIFY_REPORT_KEY, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
