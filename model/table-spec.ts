// The table spec, built from the table's declaration (table.ts: keys, indexes,
// TTL attribute): projection ALL, on-demand billing, SSE, TTL on `ttl`.
// ImportTable's TableCreationParameters, the batch path's CreateTable and the
// CloudFormation snippet of `load --print-table-spec` are all built from it,
// so the app's infrastructure declares exactly the table the load creates.
import type {
  AttributeDefinition, GlobalSecondaryIndex, KeySchemaElement, SSESpecification, TableCreationParameters,
} from '@aws-sdk/client-dynamodb';
import { UserError } from '../lib/errors.ts';
import { INDEXES, KEY_ATTRIBUTES, PRIMARY_KEY, TTL_ATTRIBUTE } from './table.ts';

/** What ImportTable cannot set at creation, applied afterwards (each configurable). */
export interface TableSettings {
  /** TTL on `ttl` (DESIGN.md: after import). */
  ttl: boolean;
  pointInTimeRecovery: boolean;
  deletionProtection: boolean;
  tags: Record<string, string>;
  /** A customer managed KMS key for SSE; absent: the AWS managed key (aws/dynamodb). */
  kmsKeyId?: string;
}

export const DEFAULT_SETTINGS: TableSettings = { ttl: true, pointInTimeRecovery: true, deletionProtection: true, tags: {} };

/** DynamoDB table names: 3-255 of [a-zA-Z0-9_.-]. */
export function checkTableName(name: string): string {
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(name)) {
    throw new UserError(`invalid DynamoDB table name ${JSON.stringify(name)}: use 3 to 255 letters, digits, '_', '-' or '.'`);
  }
  return name;
}

function keySchema(partition: string, sort: string): KeySchemaElement[] {
  return [{ AttributeName: partition, KeyType: 'HASH' }, { AttributeName: sort, KeyType: 'RANGE' }];
}

export function attributeDefinitions(): AttributeDefinition[] {
  return KEY_ATTRIBUTES.map((AttributeName) => ({ AttributeName, AttributeType: 'S' }));
}

export function globalSecondaryIndexes(): GlobalSecondaryIndex[] {
  return INDEXES.map((i) => ({ IndexName: i.name, KeySchema: keySchema(i.partition, i.sort), Projection: { ProjectionType: 'ALL' } }));
}

/** KMS: the AWS managed key unless a customer key is given (encryption at rest is explicit, not left to the default). */
export function sseSpecification(settings: Pick<TableSettings, 'kmsKeyId'>): SSESpecification {
  return { Enabled: true, SSEType: 'KMS', ...(settings.kmsKeyId ? { KMSMasterKeyId: settings.kmsKeyId } : {}) };
}

/** ImportTable's TableCreationParameters; CreateTable takes the same fields. */
export function tableCreationParameters(tableName: string, settings: Pick<TableSettings, 'kmsKeyId'>): TableCreationParameters {
  return {
    TableName: checkTableName(tableName),
    AttributeDefinitions: attributeDefinitions(),
    KeySchema: keySchema(PRIMARY_KEY.partition, PRIMARY_KEY.sort),
    BillingMode: 'PAY_PER_REQUEST',
    GlobalSecondaryIndexes: globalSecondaryIndexes(),
    SSESpecification: sseSpecification(settings),
  };
}

/** An `AWS::DynamoDB::Table` resource (CloudFormation, or CDK's CfnInclude) declaring the same table and settings. */
export function cloudFormationTemplate(tableName: string, settings: TableSettings): object {
  const params = tableCreationParameters(tableName, settings);
  const tags = Object.entries(settings.tags).map(([Key, Value]) => ({ Key, Value }));
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Resources: {
      SingleTable: {
        Type: 'AWS::DynamoDB::Table',
        // The data was migrated once: a stack update or deletion must never drop it.
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: {
          TableName: params.TableName,
          AttributeDefinitions: params.AttributeDefinitions,
          KeySchema: params.KeySchema,
          BillingMode: params.BillingMode,
          GlobalSecondaryIndexes: params.GlobalSecondaryIndexes,
          // CloudFormation names the flag SSEEnabled where the API says Enabled.
          SSESpecification: { SSEEnabled: true, SSEType: 'KMS', ...(settings.kmsKeyId ? { KMSMasterKeyId: settings.kmsKeyId } : {}) },
          ...(settings.ttl ? { TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true } } : {}),
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: settings.pointInTimeRecovery },
          DeletionProtectionEnabled: settings.deletionProtection,
          ...(tags.length > 0 ? { Tags: tags } : {}),
        },
      },
    },
  };
}

/** `key=value` tag arguments → tags (DynamoDB: keys 1-128 chars, values up to 256). */
export function parseTags(args: string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    const key = eq < 0 ? arg : arg.slice(0, eq);
    const value = eq < 0 ? '' : arg.slice(eq + 1);
    if (!key || key.length > 128 || value.length > 256 || key.startsWith('aws:')) {
      throw new UserError(`invalid tag ${JSON.stringify(arg)}: use key=value (key 1-128 characters, not aws:..., value up to 256)`);
    }
    tags[key] = value;
  }
  return tags;
}

/** Whether a described table has the key schema and indexes the spec gives (an existing table must, to be loaded into). */
export function describeMismatch(table: { KeySchema?: KeySchemaElement[]; GlobalSecondaryIndexes?: { IndexName?: string; KeySchema?: KeySchemaElement[] }[] }): string | undefined {
  const same = (a: KeySchemaElement[] | undefined, b: KeySchemaElement[]) => JSON.stringify(a?.map((k) => [k.AttributeName, k.KeyType])) === JSON.stringify(b.map((k) => [k.AttributeName, k.KeyType]));
  if (!same(table.KeySchema, keySchema(PRIMARY_KEY.partition, PRIMARY_KEY.sort))) return `its key is not (${PRIMARY_KEY.partition} HASH, ${PRIMARY_KEY.sort} RANGE)`;
  for (const index of INDEXES) {
    const found = table.GlobalSecondaryIndexes?.find((g) => g.IndexName === index.name);
    if (!found) return `it has no index ${index.name}`;
    if (!same(found.KeySchema, keySchema(index.partition, index.sort))) return `its index ${index.name} is not keyed (${index.partition}, ${index.sort})`;
  }
  return undefined;
}
