// `load --dry-run`: what a load would do, with reads only. It reads the item
// files, the run's key records and (batch mode) the DynamoDB table's keys, and
// writes nothing: no table, no item, no report, no key record.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { awsRegion } from '../lib/aws.ts';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { runStorage } from '../lib/config.ts';
import { UserError } from '../lib/errors.ts';
import type { Storage } from '../lib/storage.ts';
import { findOwnImport, notOurTableMessage } from './import-attempts.ts';
import { itemsLocation } from './import-table.ts';
import { checkItemFiles, itemKey, readLoadableRun, readPartItems, type LoadableRun } from '../lib/item-files.ts';
import { keyRecord, readLoadedKeys } from './loaded-keys.ts';
import type { LoadOptions } from './load.ts';
import { GB, pricesFor, readPriceFile } from '../lib/cost-model.ts';
import { parallelScan } from '../lib/parallel-scan.ts';
import { describeTable } from '../lib/describe-table.ts';
import { checkTableName } from '../model/table-spec.ts';
import { PRIMARY_KEY } from '../model/table.ts';

export interface LoadDryRunTable {
  name: string;
  entity_type?: string;
  items: number;
  /** Items whose key the DynamoDB table does not hold yet. */
  create: number;
  /** Items whose key it holds: overwritten. */
  upsert: number;
  prune?: { in_table: number; stale: number; deleted: 0; dry_run: true };
}

export interface LoadDryRun {
  dry_run: true;
  run: string;
  mode: LoadOptions['mode'];
  table: string;
  table_exists: boolean;
  /** Import mode into a table this run's import created: the load resumes watching that import and creates nothing more. */
  resumes_import?: string;
  tables: LoadDryRunTable[];
  totals: { items: number; create: number; upsert: number; prune: number; raw_bytes: number };
  /** ImportTable bills the uncompressed source bytes in S3: the items' JSON. */
  import_estimate: { region: string; prices_of: string; raw_bytes: number; usd_per_gb: number; usd: number; assumption: boolean };
}

export async function dryRunLoad(options: LoadOptions): Promise<LoadDryRun> {
  checkTableName(options.tableName);
  const run = runStorage(options.store, options.run);
  const loadable = await readLoadableRun(run, options.run, options.tables);
  await checkItemFiles(run, loadable.tables, options.concurrency);
  const selected = !!options.tables && options.tables.length > 0;
  // The refusals of a real load, before it would write anything.
  if (options.prune && !selected) throw new UserError('--prune deletes items of the tables being reloaded: name them with TABLE=... (or --table)');
  if (options.mode === 'import' && selected) throw new UserError('import mode creates a new table from every item file of the run; to reload some tables into an existing table use --mode batch');
  if (options.mode === 'import' && options.prune) throw new UserError('--prune applies to batch mode only: an imported table holds exactly the run');
  if (options.mode === 'import') itemsLocation(options.store, options.run);
  const client = options.dynamo ?? dynamoClient();
  const table = await describeTable(client, options.tableName);
  const exists = table !== undefined;
  // Import mode into an existing table resumes this run's own import, which created every item, or is refused.
  const ownImport = options.mode === 'import' && table ? await findOwnImport(client, table.TableArn!, { manifestSha256: loadable.manifestSha256, tableName: options.tableName }) : undefined;
  if (options.mode === 'import' && table && !ownImport) throw new UserError(notOurTableMessage({ manifestSha256: loadable.manifestSha256, tableName: options.tableName }));
  const tables: LoadDryRunTable[] = loadable.tables.map((t) => ({
    name: t.name, ...(t.entity_type ? { entity_type: t.entity_type } : {}), items: t.items_out, create: ownImport ? 0 : t.items_out, upsert: 0,
    ...(options.prune ? { prune: { in_table: 0, stale: 0, deleted: 0 as const, dry_run: true as const } } : {}),
  }));
  // Import mode makes a new table, so every item is created; batch mode into an existing table overwrites the keys it holds.
  if (options.mode === 'batch' && exists) await countExisting(options, run, loadable, client, tables);
  const rawBytes = loadable.tables.reduce((n, t) => n + t.raw_bytes, 0);
  return {
    dry_run: true, run: options.run, mode: options.mode, table: options.tableName, table_exists: exists,
    ...(ownImport ? { resumes_import: ownImport.description.ImportArn! } : {}), tables,
    totals: {
      items: sum(tables, (t) => t.items), create: sum(tables, (t) => t.create), upsert: sum(tables, (t) => t.upsert),
      prune: sum(tables, (t) => t.prune?.stale ?? 0), raw_bytes: rawBytes,
    },
    import_estimate: await importEstimate(options, rawBytes),
  };
}

const sum = <T>(xs: T[], f: (x: T) => number) => xs.reduce((n, x) => n + f(x), 0);

/**
 * One scan of the table's keys: which of the run's items it holds already
 * (upserts), and for --prune the stale items by the same rule as prune.ts
 * (recorded by an earlier load of the table, of its entity_type, not in the run).
 */
async function countExisting(options: LoadOptions, run: Storage, loadable: LoadableRun, client: Pick<DynamoDBClient, 'send'>, tables: LoadDryRunTable[]): Promise<void> {
  const runKeys = new Map<string, string>();
  for (const entry of loadable.tables) {
    for (const part of entry.parts) for await (const fileItem of readPartItems(run, entry.name, part)) runKeys.set(keyRecord(itemKey(fileItem.item)), entry.name);
  }
  const byName = new Map(tables.map((t) => [t.name, t]));
  const pruned = new Map<string, { table: LoadDryRunTable; loadedBefore: Set<string> }>();
  if (options.prune) {
    for (const t of tables) {
      if (!t.entity_type) throw new UserError(`load: ${t.name} has no entity_type in the transform manifest: cannot tell its items apart to prune; rerun the transform`);
      pruned.set(t.entity_type, { table: t, loadedBefore: await readLoadedKeys(run, options.tableName, t.name) ?? new Set() });
    }
  }
  await parallelScan({
    client, tableName: options.tableName, segments: options.concurrency,
    input: {
      ProjectionExpression: '#pk, #sk, #type',
      ExpressionAttributeNames: { '#pk': PRIMARY_KEY.partition, '#sk': PRIMARY_KEY.sort, '#type': 'entity_type' },
    },
    onPage: (items) => {
      for (const item of items) {
        const record = keyRecord(itemKey(item as Record<string, { S?: string }>));
        const owner = runKeys.get(record);
        if (owner !== undefined) {
          const t = byName.get(owner)!;
          t.upsert++;
          t.create--;
        }
        const type = (item as { entity_type?: { S?: string } }).entity_type?.S;
        const prune = type === undefined ? undefined : pruned.get(type);
        if (!prune) continue;
        prune.table.prune!.in_table++;
        if (prune.loadedBefore.has(record) && owner !== prune.table.name) prune.table.prune!.stale++;
      }
    },
  });
}

async function importEstimate(options: LoadOptions, rawBytes: number): Promise<LoadDryRun['import_estimate']> {
  const file = readPriceFile();
  let region = options.region;
  if (!region) region = await awsRegion().catch(() => 'unknown');
  // A region without prices still gets a figure, labelled with the region whose prices it uses.
  const pricesOf = file.regions[region] ? region : 'us-east-1';
  const price = pricesFor(file, pricesOf).import_per_gb;
  return { region, prices_of: pricesOf, raw_bytes: rawBytes, usd_per_gb: price.usd, usd: (rawBytes / GB) * price.usd, assumption: price.assumption };
}

/** The dry run for people: one line per table, then the totals and the cost of an import. */
export function describeLoadDryRun(dryRun: LoadDryRun): string[] {
  const target = `${dryRun.table}${dryRun.resumes_import ? ` (exists: created by this run's import ${dryRun.resumes_import}, which the load resumes watching)` : dryRun.table_exists ? ' (exists)' : ` (absent: ${dryRun.mode === 'import' ? 'ImportTable would create it' : 'would be created'})`}`;
  const lines = [`dry run, nothing written: ${dryRun.mode} mode into ${target}`];
  for (const t of dryRun.tables) {
    lines.push(`  ${t.name}: ${t.items} items: ${t.create} to create, ${t.upsert} to upsert${t.prune ? `, ${t.prune.stale} to prune (of ${t.prune.in_table} ${t.entity_type} items in the table)` : ''}`);
  }
  const { totals, import_estimate: cost } = dryRun;
  lines.push(`  total: ${dryRun.tables.length} table(s), ${totals.items} items: ${totals.create} to create, ${totals.upsert} to upsert, ${totals.prune} to prune`);
  const priced = cost.prices_of === cost.region ? cost.region : `${cost.region}, priced as ${cost.prices_of}`;
  lines.push(`  import estimate: ${(totals.raw_bytes / 1024 ** 3).toFixed(3)} GB uncompressed × $${cost.usd_per_gb}/GB = $${cost.usd.toFixed(2)} (${priced}${cost.assumption ? '; price is an assumption in lib/prices.json' : ''})`);
  return lines;
}
