// `catchup`: applies the changes a FOLLOW=1 run's slot holds to the DynamoDB
// table, batch by batch, up to the WAL position current when it starts (or,
// with untilLagSeconds, again and again until caught up). Each batch is whole
// transactions in commit order: mapped (catchup/map-changes.ts), its rejects
// stored, its writes made durable, and only then the slot confirmed past it.
import { runStorage } from '../lib/config.ts';
import { UserError } from '../lib/errors.ts';
import { formatBytes, type Logger } from '../lib/log.ts';
import { retainedWarning } from '../lib/slot-wal.ts';
import { readExtractManifest, type FollowEntry } from '../lib/manifest.ts';
import type { Storage } from '../lib/storage.ts';
import { readTransformManifest } from '../lib/transform-manifest.ts';
import { QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { batchWrite, type SizedWrite } from '../lib/batch-write.ts';
import { checkCatchupTarget, recordCatchupTarget, requireLoadedFrom } from '../lib/loaded-tables.ts';
import { catchupRejectsKey } from '../lib/run-layout.ts';
import { mapTables } from '../model/table-mapping.ts';
import { lsnBytes, type Message } from './decode.ts';
import { ChangeMapper, type CatchupReject, type TableCounts, type Write } from './map-changes.ts';
import { Slot, type SlotState } from './slot.ts';

/** Messages read per batch: a batch is held in memory (whole transactions, so one large transaction may exceed it). */
export const BATCH_MESSAGES = 5000;

export interface CatchupOptions {
  databaseUrl?: string;
  store: string;
  run: string;
  tableName: string;
  concurrency: number;
  /** Loop until the oldest unapplied change is at most this many seconds old (0: until none is pending). */
  untilLagSeconds?: number;
  batchMessages?: number;
  /** The model's entity directory the run was transformed with (default: the shipped model/entities/). */
  entities?: string;
  log: Logger;
}

export interface CatchupSummary {
  run: string;
  slot: string;
  table_name: string;
  before: SlotState;
  after: SlotState;
  transactions: number;
  writes: { puts: number; deletes: number };
  rejected: number;
  tables: Record<string, TableCounts>;
  seconds: number;
}

/** The run's follow entry and its table mappings, refused with the reason when the run cannot be caught up. */
export async function readFollowedRun(run: Storage, runId: string, entities?: string) {
  const extract = await readExtractManifest(run, { checkFiles: false });
  if (!extract) throw new UserError(`no extract manifest in ${run.uri}: catchup follows a run extracted with FOLLOW=1`);
  if (!extract.follow) throw new UserError(`run ${runId} was not extracted with FOLLOW=1, so no replication slot holds its changes: extract FOLLOW=1 into a new RUN`);
  const transform = await readTransformManifest(run);
  if (!transform) throw new UserError(`no transform manifest in ${run.uri}: transform and load run ${runId} before catching it up`);
  if (transform.options.drop_expired) throw new UserError(`run ${runId} was transformed with --drop-expired, which catchup cannot repeat (expiry depends on each run's instant): transform it without`);
  const mappings = await mapTables(extract, transform.options.unmapped, entities);
  // Mapped by another model than the transform's (MODEL= forgotten or changed), a loaded table could be skipped
  // (its changes, even a TRUNCATE, confirmed unapplied) or given other items than the loaded ones.
  for (const { table, mapping, mapper } of mappings) {
    const was = transform.tables.find((t) => t.name === table.name);
    if (was && (was.mapping !== mapping || was.entity_type !== mapper?.mapper.entityType)) {
      const describe = (m: string, type: string | undefined) => (m === 'skip' ? 'skip' : `a ${m === 'generic' ? 'generic mapping' : 'mapper'} (entity_type ${type})`);
      throw new UserError(`table ${table.name}: run ${runId} was transformed with ${describe(was.mapping, was.entity_type)}, the model catchup was given maps it as ` +
        `${describe(mapping, mapper?.mapper.entityType)}: pass the run's MODEL (and the same entities)`);
    }
  }
  return { extract, transform, follow: extract.follow as FollowEntry, mappings };
}

export async function runCatchup(options: CatchupOptions): Promise<CatchupSummary> {
  const started = Date.now();
  const run = runStorage(options.store, options.run);
  const { follow, mappings, transform } = await readFollowedRun(run, options.run, options.entities);
  // Changes go on top of the run's items: into a table the run was not (yet, or wholly) loaded into, they would be
  // confirmed and lost to the real table, or overwritten by the rest of the load with the snapshot's older items.
  await requireLoadedFrom(run, options.run, options.tableName, transform.tables.filter((t) => t.mapping !== 'skip'), 'catchup');
  const slot = await Slot.open(options.databaseUrl, follow);
  try {
    // Refused before anything is read; the table is recorded before its first write (drain).
    await checkCatchupTarget(run, options.run, options.tableName);
    const before = await slot.state();
    options.log(`slot ${follow.slot}: lag ${formatBytes(before.lag_bytes)} / ${before.lag_seconds.toFixed(1)} s, WAL retained ${formatBytes(before.retained_bytes)}`);
    warnRetained(before, follow.slot, options.log);
    const client = dynamoClient();
    const mapper = new ChangeMapper(mappings, slot.client, (pk, skPrefix, entityType) => itemsUnder(client, options.tableName, pk, skPrefix, entityType));
    const totals = { transactions: 0, puts: 0, deletes: 0, rejected: 0 };
    for (;;) {
      const target = await slot.currentLsn();
      await drain(slot, mapper, target, run, client, options, totals);
      const now = await slot.state();
      if (options.untilLagSeconds === undefined || (await slot.peek(null, 1)).length === 0 || now.lag_seconds <= options.untilLagSeconds) break;
      options.log(`lag ${formatBytes(now.lag_bytes)} / ${now.lag_seconds.toFixed(1)} s: another pass`);
    }
    const after = await slot.state();
    options.log(`slot ${follow.slot}: lag ${formatBytes(after.lag_bytes)} / ${after.lag_seconds.toFixed(1)} s after ${totals.transactions} transaction(s)`);
    return {
      run: options.run, slot: follow.slot, table_name: options.tableName, before, after,
      transactions: totals.transactions, writes: { puts: totals.puts, deletes: totals.deletes }, rejected: totals.rejected,
      tables: Object.fromEntries([...mapper.counts].sort(([a], [b]) => (a < b ? -1 : 1))),
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await slot.close().catch(() => {});
  }
}

/** Applies every transaction committed before `target`, one durable batch at a time, then confirms the slot to `target`. */
async function drain(
  slot: Slot, mapper: ChangeMapper, target: string, run: Storage, client: ReturnType<typeof dynamoClient>,
  options: CatchupOptions, totals: { transactions: number; puts: number; deletes: number; rejected: number },
): Promise<void> {
  for (;;) {
    const from = await slot.confirmedLsn();
    const messages = await slot.peek(target, options.batchMessages ?? BATCH_MESSAGES);
    // A transaction is applied only whole: the batch ends at its last commit.
    let end = -1;
    messages.forEach((m, i) => { if (m.kind === 'commit') end = i; });
    const commits = messages.slice(0, end + 1).filter((m): m is Extract<Message, { kind: 'commit' }> => m.kind === 'commit');
    if (commits.length === 0) break;
    const last = commits[commits.length - 1]!;
    const { writes, rejects } = await mapper.map(messages.slice(0, end + 1));
    await storeRejects(run, rejects, from);
    // From the first write on, a load of the run into this table would undo what was applied
    // (once recorded, this is one read per batch).
    if (writes.size > 0) await recordCatchupTarget(run, options.run, options.tableName);
    const stats = await writeAll(client, options.tableName, [...writes.values()], options.concurrency);
    await slot.confirm(last.endLsn);
    totals.transactions += commits.length;
    totals.puts += stats.puts;
    totals.deletes += stats.deletes;
    totals.rejected += rejects.length;
    options.log(`applied ${commits.length} transaction(s) to ${last.endLsn}: ${stats.puts} put(s), ${stats.deletes} delete(s), ${rejects.length} reject(s)`);
    // peek returns transactions committed before its limit, and one that reaches it: stop there.
    if (lsnBytes(last.endLsn) >= lsnBytes(target)) return;
  }
  // Nothing of the publication committed before `target`: the slot may move there (frees WAL, lag reads 0),
  // unless the publication was altered meanwhile (then nothing may have been sent of what was committed).
  await slot.checkPublication();
  await slot.confirm(target).catch(() => {});
}

/**
 * Rejects as transform writes them (table, primary key, column, reason; never
 * the row's values), one JSON line each, plus the commit LSN, in one file per
 * batch named by where the batch starts: `catchup/rejects/<slot position>.jsonl`.
 * A batch that a killed catchup had begun starts at the same confirmed position
 * when rerun, so its file is replaced (or removed when it now has no reject),
 * never doubled.
 */
async function storeRejects(run: Storage, rejects: CatchupReject[], from: string): Promise<void> {
  const [hi, lo] = from.split('/');
  const key = catchupRejectsKey(hi!.padStart(8, '0'), lo!.padStart(8, '0'));
  if (rejects.length === 0) await run.delete(key);
  else await run.put(key, rejects.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

async function writeAll(client: ReturnType<typeof dynamoClient>, tableName: string, writes: Write[], concurrency: number): Promise<{ puts: number; deletes: number }> {
  async function* requests(): AsyncGenerator<SizedWrite> {
    for (const w of writes) {
      const request = w.kind === 'put'
        ? { PutRequest: { Item: w.item } }
        : { DeleteRequest: { Key: { PK: { S: w.pk }, SK: { S: w.sk } } } };
      yield { request, bytes: Buffer.byteLength(JSON.stringify(request)) };
    }
  }
  if (writes.length > 0) await batchWrite(requests(), { client, tableName, concurrency });
  const puts = writes.filter((w) => w.kind === 'put').length;
  return { puts, deletes: writes.length - puts };
}

/** Keys of the items under `pk` whose SK starts with `skPrefix`, of one entity type (strongly consistent: the last batch's writes count). */
async function itemsUnder(client: ReturnType<typeof dynamoClient>, tableName: string, pk: string, skPrefix: string, entityType: string): Promise<{ pk: string; sk: string }[]> {
  const keys: { pk: string; sk: string }[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const out = await client.send(new QueryCommand({
      TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start,
      KeyConditionExpression: skPrefix ? 'PK = :pk AND begins_with(SK, :sk)' : 'PK = :pk',
      FilterExpression: 'entity_type = :type',
      ExpressionAttributeValues: { ':pk': { S: pk }, ':type': { S: entityType }, ...(skPrefix ? { ':sk': { S: skPrefix } } : {}) },
      ProjectionExpression: 'PK, SK',
    }));
    for (const item of out.Items ?? []) keys.push({ pk: item.PK!.S!, sk: item.SK!.S! });
    start = out.LastEvaluatedKey;
  } while (start);
  return keys;
}

export function warnRetained(state: Pick<SlotState, 'retained_bytes'>, slot: string, log: Logger): void {
  const warning = retainedWarning(slot, state.retained_bytes);
  if (warning) log(warning);
}
