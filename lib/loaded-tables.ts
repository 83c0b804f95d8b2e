// `<run>/load/loaded/<DynamoDB table>.json`: which transform of each source
// table a DynamoDB table was loaded from. Load writes it as each source table
// lands; verify refuses to bless a DynamoDB table whose items came from
// another transform than the one it is asked to compare (a retransformed
// table that was never reloaded would otherwise pass against its old self).
import { UserError } from './errors.ts';
import { sha256Hex } from './meter.ts';
import { tableWord } from './output.ts';
import type { Storage } from './storage.ts';
import type { TransformTable } from './transform-manifest.ts';
import { CATCHUP_TARGET_KEY, loadedKey } from './run-layout.ts';

export const LOADED_FORMAT = 'pg2ddb.loaded/1';

export interface LoadedTables {
  format: typeof LOADED_FORMAT;
  run_id: string;
  table_name: string;
  /** Per source table: the digest of the item files loaded (itemsDigest), when and how. */
  /** `cutover`: a fresh run compared with the table that catchup brought to the same instant (catchup/cutover-cli.ts). */
  tables: Record<string, { items_sha256: string; items: number; mode: 'import' | 'batch' | 'cutover'; loaded_at: string }>;
}

/** A source table's item files as one digest: any retransform that changes a byte changes it. */
export function itemsDigest(table: TransformTable): string {
  return sha256Hex(table.parts.map((p) => p.sha256).join(','));
}

async function readLoaded(run: Storage, tableName: string): Promise<LoadedTables | undefined> {
  const text = await run.getText(loadedKey(tableName));
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as LoadedTables;
  } catch {
    throw new UserError(`${run.uri}/${loadedKey(tableName)} is not valid JSON: rerun the load of run into ${tableName}`);
  }
}

/**
 * Records that `tables` are now in `tableName` as this transform has them.
 * A created table starts a fresh record: whatever an earlier table of that
 * name held is gone.
 */
export async function recordLoaded(
  run: Storage, runId: string, tableName: string, tables: TransformTable[], mode: 'import' | 'batch' | 'cutover', created: boolean,
): Promise<void> {
  const record: LoadedTables = (!created && (await readLoaded(run, tableName))) || { format: LOADED_FORMAT, run_id: runId, table_name: tableName, tables: {} };
  const at = new Date().toISOString();
  for (const t of tables) record.tables[t.name] = { items_sha256: itemsDigest(t), items: t.items_out, mode, loaded_at: at };
  await run.put(loadedKey(tableName), `${JSON.stringify(record, null, 2)}\n`);
}

/**
 * Refuses to verify (or catch up) `tableName` against `tables` unless each was loaded into it from exactly these item files.
 * Returns when the last of them was loaded (ISO time): a verify that read the table before then is stale.
 */
export async function requireLoadedFrom(run: Storage, runId: string, tableName: string, tables: TransformTable[], stage = 'verify'): Promise<string> {
  const record = await readLoaded(run, tableName);
  const wrong = tables.filter((t) => record?.tables[t.name]?.items_sha256 !== itemsDigest(t));
  if (wrong.length === 0) return tables.map((t) => record!.tables[t.name]!.loaded_at).sort().at(-1) ?? '';
  const names = wrong.map((t) => t.name);
  const why = record
    ? `${names.join(', ')} ${names.length === 1 ? 'was' : 'were'} loaded into ${tableName} from another transform of run ${runId} (or never loaded)`
    : `no load of run ${runId} into ${tableName} is recorded (${run.uri}/${loadedKey(tableName)})`;
  throw new UserError(`${stage}: ${why}: load the current items first, e.g. \`make load RUN=${runId} DDB_TABLE=${tableName} MODE=batch ${tableWord(names)}\`, then ${stage} again`);
}

/** The DynamoDB table a catchup of the run applied changes to, if any (catchup/target.json). */
export async function caughtUpTable(run: Storage): Promise<string | undefined> {
  const text = await run.getText(CATCHUP_TARGET_KEY);
  if (text === undefined) return undefined;
  try {
    return (JSON.parse(text) as { table_name: string }).table_name;
  } catch {
    throw new UserError(`${run.uri}/${CATCHUP_TARGET_KEY} is not valid JSON: it names the table catchup applied changes to`);
  }
}

/**
 * A catchup into another table than the one a catchup of the run applied
 * changes to is refused: the slot is past the changes already applied there.
 * Checked when catchup starts; true when `tableName` is already the target.
 */
export async function checkCatchupTarget(run: Storage, runId: string, tableName: string): Promise<boolean> {
  const target = await caughtUpTable(run);
  if (target === tableName) return true;
  if (target !== undefined) {
    throw new UserError(`catchup: run ${runId} is caught up into ${target}, and its slot is past the changes applied there: ${tableName} would miss them; ` +
      `catch up ${target} (DDB_TABLE=${target}), or extract FOLLOW=1 into a new RUN for another table`);
  }
  return false;
}

/**
 * Catchup records its table before its first write (not before its first
 * batch: a catchup that writes nothing leaves the table as the load made it,
 * and loading the run again is still safe).
 */
export async function recordCatchupTarget(run: Storage, runId: string, tableName: string): Promise<void> {
  if (await checkCatchupTarget(run, runId, tableName)) return;
  await run.put(CATCHUP_TARGET_KEY, `${JSON.stringify({ table_name: tableName, at: new Date().toISOString() }, null, 2)}\n`);
}

/** A load into the table a catchup applied changes to would put the snapshot's older items back over them: refused. */
export async function refuseLoadAfterCatchup(run: Storage, runId: string, tableName: string): Promise<void> {
  if ((await caughtUpTable(run)) !== tableName) return;
  throw new UserError(`load: catchup has applied changes committed after run ${runId}'s snapshot to ${tableName}, and its slot is past them: ` +
    `loading the run's items again would put older items back (and --prune would delete rows inserted since); ` +
    `make catchup brings the table up to date, or extract FOLLOW=1 into a new RUN to start over`);
}
