// The table's life around the data: create it from the spec (batch mode),
// wait until it and its indexes are ACTIVE, and apply what ImportTable cannot
// set at creation: TTL, point-in-time recovery, deletion protection, tags.
import {
  CreateTableCommand, DescribeContinuousBackupsCommand, DescribeTimeToLiveCommand,
  TagResourceCommand, UpdateContinuousBackupsCommand, UpdateTableCommand, UpdateTimeToLiveCommand,
  type DynamoDBClient, type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { UserError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { sleep as realSleep } from '../lib/retry.ts';
import { describeError, isUnsupported } from '../lib/dynamo-errors.ts';
import { INDEXES, PRIMARY_KEY, TTL_ATTRIBUTE } from '../model/table.ts';
import { describeTable } from '../lib/describe-table.ts';
import { describeMismatch, tableCreationParameters, type TableSettings } from '../model/table-spec.ts';

type Client = Pick<DynamoDBClient, 'send'>;

/** Polls until the table and every GSI are ACTIVE. */
export async function waitActive(client: Client, tableName: string, opts: { sleep?: (ms: number) => Promise<void>; pollMs?: number; timeoutMs?: number } = {}): Promise<TableDescription> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60 * 60_000);
  for (;;) {
    const table = await describeTable(client, tableName);
    if (table && table.TableStatus === 'ACTIVE' && (table.GlobalSecondaryIndexes ?? []).every((g) => g.IndexStatus === 'ACTIVE')) return table;
    if (Date.now() > deadline) throw new UserError(`DynamoDB table ${tableName} is not ACTIVE (status ${table?.TableStatus ?? 'absent'}) after waiting`);
    await (opts.sleep ?? realSleep)(opts.pollMs ?? 5_000);
  }
}

/** Creates the table from the spec when it does not exist; an existing one must have the spec's keys and indexes. */
export async function ensureTable(client: Client, tableName: string, settings: TableSettings, log: Logger): Promise<{ created: boolean; table: TableDescription }> {
  const existing = await describeTable(client, tableName);
  if (existing) {
    const mismatch = describeMismatch(existing);
    if (mismatch) throw new UserError(`DynamoDB table ${tableName} exists but ${mismatch}: load into a table made from \`load --print-table-spec\`, or name another with --ddb-table`);
    return { created: false, table: await waitActive(client, tableName, { pollMs: 1_000 }) };
  }
  log(`creating table ${tableName} (${PRIMARY_KEY.partition}/${PRIMARY_KEY.sort}, ${INDEXES.map((i) => i.name).join(', ')}, on-demand, SSE)`);
  try {
    await client.send(new CreateTableCommand(tableCreationParameters(tableName, settings)));
  } catch (err) {
    // Another load created it meanwhile: use it (its schema is checked below).
    if ((err as { name?: string }).name !== 'ResourceInUseException') throw new UserError(`cannot create DynamoDB table ${tableName}: ${describeError(err)}`);
  }
  const table = await waitActive(client, tableName, { pollMs: 1_000 });
  const mismatch = describeMismatch(table);
  if (mismatch) throw new UserError(`DynamoDB table ${tableName} exists but ${mismatch}`);
  return { created: true, table };
}

/** What became of each setting: applied, already so, not asked for, or not offered by this endpoint (DynamoDB Local). */
export type SettingOutcome = 'enabled' | 'already' | 'off' | 'unsupported';
export interface SettingsReport { ttl: SettingOutcome; point_in_time_recovery: SettingOutcome; deletion_protection: SettingOutcome; tags: SettingOutcome }

export async function applyTableSettings(client: Client, table: TableDescription, settings: TableSettings, log: Logger): Promise<SettingsReport> {
  const name = table.TableName!;
  const attempt = async (what: string, work: () => Promise<SettingOutcome>): Promise<SettingOutcome> => {
    try {
      return await work();
    } catch (err) {
      if (isUnsupported(err)) {
        log(`${what}: not supported by this endpoint, skipped (${describeError(err)})`);
        return 'unsupported';
      }
      throw new UserError(`cannot set ${what} on ${name}: ${describeError(err)}`);
    }
  };
  const report: SettingsReport = {
    ttl: await attempt('TTL', async () => {
      if (!settings.ttl) return 'off';
      const current = (await client.send(new DescribeTimeToLiveCommand({ TableName: name }))).TimeToLiveDescription;
      if (current?.AttributeName === TTL_ATTRIBUTE && (current.TimeToLiveStatus === 'ENABLED' || current.TimeToLiveStatus === 'ENABLING')) return 'already';
      await client.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true } }));
      return 'enabled';
    }),
    point_in_time_recovery: await attempt('point-in-time recovery', async () => {
      if (!settings.pointInTimeRecovery) return 'off';
      const current = await client.send(new DescribeContinuousBackupsCommand({ TableName: name }));
      if (current.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus === 'ENABLED') return 'already';
      await client.send(new UpdateContinuousBackupsCommand({ TableName: name, PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }));
      return 'enabled';
    }),
    deletion_protection: await attempt('deletion protection', async () => {
      if (!settings.deletionProtection) return 'off';
      if (table.DeletionProtectionEnabled) return 'already';
      await client.send(new UpdateTableCommand({ TableName: name, DeletionProtectionEnabled: true }));
      return 'enabled';
    }),
    tags: await attempt('tags', async () => {
      const tags = Object.entries(settings.tags).map(([Key, Value]) => ({ Key, Value }));
      if (tags.length === 0) return 'off';
      await client.send(new TagResourceCommand({ ResourceArn: table.TableArn!, Tags: tags }));
      return 'enabled';
    }),
  };
  log(`settings on ${name}: ${Object.entries(report).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  return report;
}
