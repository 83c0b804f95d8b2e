import test from 'ava';
import { cloudFormationTemplate, describeMismatch, parseTags, tableCreationParameters } from './table-spec.ts';

const S = (AttributeName: string) => ({ AttributeName, AttributeType: 'S' });

test('the table: PK/SK, GSI1 and GSI2 with projection ALL, on-demand, SSE', (t) => {
  t.deepEqual(tableCreationParameters('serenya', {}), {
    TableName: 'serenya',
    AttributeDefinitions: ['PK', 'SK', 'GSI1PK', 'GSI1SK', 'GSI2PK', 'GSI2SK'].map(S),
    KeySchema: [{ AttributeName: 'PK', KeyType: 'HASH' }, { AttributeName: 'SK', KeyType: 'RANGE' }],
    BillingMode: 'PAY_PER_REQUEST',
    GlobalSecondaryIndexes: [
      { IndexName: 'GSI1', KeySchema: [{ AttributeName: 'GSI1PK', KeyType: 'HASH' }, { AttributeName: 'GSI1SK', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } },
      { IndexName: 'GSI2', KeySchema: [{ AttributeName: 'GSI2PK', KeyType: 'HASH' }, { AttributeName: 'GSI2SK', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } },
    ],
    SSESpecification: { Enabled: true, SSEType: 'KMS' },
  });
  t.deepEqual(tableCreationParameters('serenya', { kmsKeyId: 'alias/mine' }).SSESpecification, { Enabled: true, SSEType: 'KMS', KMSMasterKeyId: 'alias/mine' });
  t.throws(() => tableCreationParameters('a b', {}), { message: /invalid DynamoDB table name/ });
});

test('the CloudFormation snippet declares the same table and the post-import settings', (t) => {
  const template = cloudFormationTemplate('serenya', { ttl: true, pointInTimeRecovery: true, deletionProtection: true, tags: { app: 'serenya' } }) as {
    Resources: { SingleTable: { Type: string; DeletionPolicy: string; Properties: Record<string, unknown> } };
  };
  const { Type, DeletionPolicy, Properties } = template.Resources.SingleTable;
  t.is(Type, 'AWS::DynamoDB::Table');
  t.is(DeletionPolicy, 'Retain');
  const api = tableCreationParameters('serenya', {});
  for (const key of ['TableName', 'AttributeDefinitions', 'KeySchema', 'BillingMode', 'GlobalSecondaryIndexes'] as const) t.deepEqual(Properties[key], api[key], key);
  t.deepEqual(Properties.SSESpecification, { SSEEnabled: true, SSEType: 'KMS' });
  t.deepEqual(Properties.TimeToLiveSpecification, { AttributeName: 'ttl', Enabled: true });
  t.deepEqual(Properties.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: true });
  t.is(Properties.DeletionProtectionEnabled, true);
  t.deepEqual(Properties.Tags, [{ Key: 'app', Value: 'serenya' }]);
});

test('tags parse as key=value; an existing table must have the spec\'s keys', (t) => {
  t.deepEqual(parseTags(['a=b', 'c=d=e', 'empty=']), { a: 'b', c: 'd=e', empty: '' });
  t.throws(() => parseTags(['aws:x=1']));
  const spec = tableCreationParameters('x12', {});
  t.is(describeMismatch(spec), undefined);
  t.regex(describeMismatch({ ...spec, GlobalSecondaryIndexes: spec.GlobalSecondaryIndexes!.slice(0, 1) })!, /no index GSI2/);
  t.regex(describeMismatch({ KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }] })!, /key is not/);
});
