// The least-privilege IAM policy of each stage (issue 5, "Transport and
// storage"), built from the configured bucket, prefix, run and table. Each
// statement is one reason, named by its Sid; what a stage is allowed is what
// its code calls (plan/iam-policy.test.ts checks every `…Command(` of a stage
// against its policy, so the policy cannot fall behind the code).
//
// S3 API calls map to IAM actions as follows: HeadBucket and ListObjectsV2 are
// s3:ListBucket; PutObject and the multipart calls of @aws-sdk/lib-storage's
// Upload (CreateMultipartUpload, UploadPart, CompleteMultipartUpload) are
// s3:PutObject; an abandoned Upload calls AbortMultipartUpload.
import { checkRunId } from '../lib/config.ts';
import { UserError } from '../lib/errors.ts';
import { parseStoreUri } from '../lib/store-uri.ts';
import { checkTableName } from '../model/table-spec.ts';
import { LOCKS_PREFIX } from '../lib/run-lock.ts';
import { CATCHUP_TARGET_KEY, EXTRACT_MANIFEST_KEY, EXTRACT_PLAN_KEY, EXTRACT_SHARDS_PREFIX, IMPORT_RECORD_KEY, LOAD_REPORT_KEY, LOADED_KEYS_PREFIX, loadedKey, MAP_RESULTS_KEY, RUN_REPORT_KEY, TRANSFORM_MANIFEST_KEY, TRANSFORM_UNITS_KEY, VERIFY_REPORT_KEY, VERIFY_SHARDS_PREFIX, writeCheckKey } from '../lib/run-layout.ts';

export const STAGES = ['extract', 'transform', 'load', 'verify'] as const;
export type Stage = (typeof STAGES)[number];
export type LoadMode = 'import' | 'batch' | 'both';

export interface IamPolicyConfig {
  /** `s3://bucket/prefix`: the stages' STORE. */
  store: string;
  /** One run id; absent: any run under the prefix. */
  run?: string;
  /** The DynamoDB table (DDB_TABLE). */
  table: string;
  region: string;
  /** 12 digits; absent: `*` in the account field of DynamoDB, logs and KMS ARNs. */
  accountId?: string;
  /** Load: import (ImportTable), batch (BatchWriteItem) or both. */
  loadMode: LoadMode;
  /** The KMS key the S3 objects are encrypted with (SSE-KMS): key id, key ARN or alias/name. */
  s3KmsKeyId?: string;
  /** The customer managed KMS key of the table (load --kms-key-id). */
  tableKmsKeyId?: string;
}

type Condition = Record<string, Record<string, string | string[]>>;
export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string[];
  Condition?: Condition;
}
export interface PolicyDocument { Version: '2012-10-17'; Statement: PolicyStatement[] }

/** DynamoDB's import log group (ImportTable writes it; load reads the first errors from it). */
export const IMPORT_LOG_GROUP = '/aws-dynamodb/imports';

interface Resolved {
  partition: string;
  region: string;
  account: string;
  bucket: string;
  /** Object keys of the run(s): `<prefix>/<run>` or `<prefix>/*`. */
  runKeys: string;
  table: string;
  loadMode: LoadMode;
  s3Kms?: KmsKey;
  tableKms?: KmsKey;
}

interface KmsKey { resource: string; condition?: Condition }

function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/** A key id or key ARN names the key itself; an alias can only be matched by condition (kms:ResourceAliases). */
function kmsKey(id: string, r: Pick<Resolved, 'partition' | 'region' | 'account'>): KmsKey {
  if (id.startsWith('arn:')) {
    if (!/^arn:[a-z-]+:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[A-Za-z0-9/_-]+$/.test(id)) throw new UserError(`invalid KMS key ARN ${JSON.stringify(id)}`);
    const alias = /:alias\/(.+)$/.exec(id)?.[1];
    if (!alias) return { resource: id };
    return { resource: id.replace(/:alias\/.+$/, ':key/*'), condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': `alias/${alias}` } } };
  }
  if (id.startsWith('alias/')) {
    if (!/^alias\/[A-Za-z0-9/_-]+$/.test(id)) throw new UserError(`invalid KMS alias ${JSON.stringify(id)}`);
    return { resource: `arn:${r.partition}:kms:${r.region}:${r.account}:key/*`, condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': id } } };
  }
  if (!/^[A-Za-z0-9-]{1,128}$/.test(id)) throw new UserError(`invalid KMS key id ${JSON.stringify(id)}: give a key id, a key ARN or alias/<name>`);
  return { resource: `arn:${r.partition}:kms:${r.region}:${r.account}:key/${id}` };
}

function resolve(config: IamPolicyConfig): Resolved {
  const store = parseStoreUri(config.store);
  if (store.kind !== 's3') {
    throw new UserError(`STORE ${JSON.stringify(config.store)} is not s3://bucket/prefix: a local store needs no IAM policy`);
  }
  const { bucket, prefix } = store;
  if (config.run !== undefined) checkRunId(config.run);
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(config.region)) throw new UserError(`invalid AWS region ${JSON.stringify(config.region)}`);
  if (config.accountId !== undefined && !/^\d{12}$/.test(config.accountId)) throw new UserError(`invalid AWS account id ${JSON.stringify(config.accountId)}: 12 digits`);
  const base = {
    partition: partitionOf(config.region),
    region: config.region,
    account: config.accountId ?? '*',
  };
  const run = config.run ?? '*';
  return {
    ...base,
    bucket,
    runKeys: prefix ? `${prefix}/${run}` : run,
    table: checkTableName(config.table),
    loadMode: config.loadMode,
    ...(config.s3KmsKeyId ? { s3Kms: kmsKey(config.s3KmsKeyId, base) } : {}),
    ...(config.tableKmsKeyId ? { tableKms: kmsKey(config.tableKmsKeyId, base) } : {}),
  };
}

/** ARNs of objects of the run, by key relative to `<store>/<run>/`. */
function objects(r: Resolved, ...keys: string[]): string[] {
  return keys.map((k) => `arn:${r.partition}:s3:::${r.bucket}/${r.runKeys}/${k}`);
}

const bucketArn = (r: Resolved) => `arn:${r.partition}:s3:::${r.bucket}`;
const tableArn = (r: Resolved) => `arn:${r.partition}:dynamodb:${r.region}:${r.account}:table/${r.table}`;
const logGroupArns = (r: Resolved) => {
  const group = `arn:${r.partition}:logs:${r.region}:${r.account}:log-group:${IMPORT_LOG_GROUP}`;
  // The group itself, and its streams (log-group:<name>:log-stream:<stream>).
  return [group, `${group}:*`];
};

function allow(Sid: string, Action: string[], Resource: string[], Condition?: Condition): PolicyStatement {
  return { Sid, Effect: 'Allow', Action, Resource, ...(Condition ? { Condition } : {}) };
}

/**
 * s3:ListBucket on the bucket, listings limited to the run's keys by an
 * s3:prefix condition. "IfExists": HeadBucket (the storage checks the bucket
 * before its first write) carries no prefix, and S3 answers a GetObject of a
 * missing key (report.json, a unit record, the import record on a first run)
 * with 404 only to a caller that may list the bucket, else with 403, which the
 * stages would take for a failure. A listing that names another prefix is
 * refused; one that names none is not (IAM cannot tell it from HeadBucket).
 */
function listBucket(stage: string, r: Resolved): PolicyStatement {
  return allow(`${stage}ListBucketForHeadBucketListingsAndNotFound`, ['s3:ListBucket'], [bucketArn(r)], runPrefixCondition(r));
}

const runPrefixCondition = (r: Resolved): Condition => ({ StringLikeIfExists: { 's3:prefix': [r.runKeys, `${r.runKeys}/*`] } });

/** Every storage put is an Upload: PutObject, or the multipart calls (s3:PutObject) and AbortMultipartUpload when it fails. */
function writeObjects(sid: string, r: Resolved, keys: string[]): PolicyStatement {
  return allow(sid, ['s3:PutObject', 's3:AbortMultipartUpload'], objects(r, ...keys));
}

/** SSE-KMS objects: a write asks KMS for a data key, a read (and a multipart completion) to decrypt one. */
function s3Kms(stage: string, r: Resolved): PolicyStatement[] {
  if (!r.s3Kms) return [];
  return [allow(`${stage}UseS3ObjectKeyThroughS3`, ['kms:GenerateDataKey', 'kms:Decrypt'], [r.s3Kms.resource], {
    StringEquals: { 'kms:ViaService': `s3.${r.region}.amazonaws.com` },
    ...(r.s3Kms.condition ?? {}),
  })];
}

const RUN_REPORT = RUN_REPORT_KEY;

function extractPolicy(r: Resolved): PolicyStatement[] {
  return [
    writeObjects('ExtractWritePartsManifestAndRunReport', r, ['extract/*', RUN_REPORT]),
    // One extract writes a run at a time (lib/run-lock.ts): its lock, the others' read, leftovers removed.
    allow('ExtractHoldTheRunLock', ['s3:PutObject', 's3:GetObject', 's3:DeleteObject'], objects(r, `${LOCKS_PREFIX}/*`)),
    // An extract of its own retires a sharded extract's plan and fragments (extract/extract.ts retireShardedPlan).
    allow('ExtractDeleteItsWriteCheckAndARetiredShardedPlan', ['s3:DeleteObject'], objects(r, writeCheckKey('extract'), EXTRACT_PLAN_KEY, `${EXTRACT_SHARDS_PREFIX}/*`)),
    // A sharded extract's shards read the coordinator's plan; finalize reads the shards' fragments.
    allow('ExtractReadPreviousManifestPlanFragmentsAndRunReport', ['s3:GetObject'], objects(r, EXTRACT_MANIFEST_KEY, EXTRACT_PLAN_KEY, `${EXTRACT_SHARDS_PREFIX}/*`, RUN_REPORT)),
    listBucket('Extract', r),
    ...s3Kms('Extract', r),
  ];
}

function transformPolicy(r: Resolved): PolicyStatement[] {
  return [
    allow('TransformReadExtract', ['s3:GetObject'], objects(r, 'extract/*')),
    // Unit records, per-unit rejects and keys: a rerun skips done units and merges their files.
    // items/*: duplicate keys are reported with both items' text (transform/duplicate-report.ts).
    allow('TransformReadItsUnitsItemsAndRunReport', ['s3:GetObject'], objects(r, 'transform/*', 'items/*', RUN_REPORT)),
    writeObjects('TransformWriteItemsUnitsManifestAndRunReport', r, ['items/*', 'transform/*', RUN_REPORT]),
    // Item files no unit of the run produces (an older split): ImportTable would import them (transform/stale-items.ts).
    allow('TransformDeleteStaleItemsAndItsWriteCheck', ['s3:DeleteObject'], objects(r, 'items/*', writeCheckKey('transform'))),
    listBucket('Transform', r),
    ...s3Kms('Transform', r),
  ];
}

function loadPolicy(r: Resolved): PolicyStatement[] {
  const importMode = r.loadMode !== 'batch';
  const batchMode = r.loadMode !== 'import';
  const table = tableArn(r);
  return [
    // ImportTable reads the same objects with the caller's permissions (S3 GetObject and ListBucket on the source).
    allow('LoadReadItemsAlsoAsImportTableSource', ['s3:GetObject'], objects(r, 'items/*')),
    // load/keys/*: the keys each load put into the table (load/loaded-keys.ts); --prune reads them, a rerun rewrites them.
    // The extract manifest: a transform older than its extract is refused (lib/freshness.ts); load/loaded/<table>.json:
    // what the run last loaded into the table, merged by a TABLE= load and read by status and verify.
    // catchup/target.json: a load into the table a catchup applied changes to is refused (lib/loaded-tables.ts).
    allow('LoadReadManifestsRecordLoadedKeysAndRunReport', ['s3:GetObject'], objects(r, EXTRACT_MANIFEST_KEY, TRANSFORM_MANIFEST_KEY, loadedKey(r.table), `${LOADED_KEYS_PREFIX}/*`, CATCHUP_TARGET_KEY, ...(importMode ? [IMPORT_RECORD_KEY] : []), RUN_REPORT)),
    writeObjects('LoadWriteReportRecordLoadedKeysAndRunReport', r, [LOAD_REPORT_KEY, loadedKey(r.table), `${LOADED_KEYS_PREFIX}/*`, writeCheckKey('load'), ...(importMode ? [IMPORT_RECORD_KEY] : []), RUN_REPORT]),
    allow('LoadDeleteItsWriteCheck', ['s3:DeleteObject'], objects(r, writeCheckKey('load'))),
    listBucket('Load', r),
    ...s3Kms('Load', r),
    allow('LoadDescribeTableAndApplyTtlPitrProtectionTags', [
      'dynamodb:DescribeTable', 'dynamodb:DescribeTimeToLive', 'dynamodb:UpdateTimeToLive',
      'dynamodb:DescribeContinuousBackups', 'dynamodb:UpdateContinuousBackups', 'dynamodb:UpdateTable', 'dynamodb:TagResource',
    ], [table]),
    ...(importMode ? [
      // The preflight checks the bucket is in the table's region (load/import-preflight.ts).
      allow('LoadPreflightBucketRegion', ['s3:GetBucketLocation'], [bucketArn(r)]),
      allow('LoadImportTableCreatesTheTable', ['dynamodb:ImportTable'], [table]),
      allow('LoadWatchItsImport', ['dynamodb:DescribeImport'], [`${table}/import/*`]),
      // ListImports has no resource type: AWS authorizes it on "*" only (the load filters by TableArn,
      // and its preflight counts the account's imports IN_PROGRESS).
      allow('LoadFindItsImportByClientToken', ['dynamodb:ListImports'], ['*']),
      // ImportTable logs item errors to CloudWatch as the caller (AWS import guide, "Setting up IAM permissions").
      allow('LoadImportTableWritesItsErrorLog', [
        'logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents', 'logs:PutRetentionPolicy',
      ], logGroupArns(r)),
      // DescribeLogGroups lists groups by name prefix and is authorized on "*" (as the AWS import guide grants it).
      allow('LoadImportTableFindsItsLogGroup', ['logs:DescribeLogGroups'], ['*']),
      allow('LoadReadFirstImportErrors', ['logs:FilterLogEvents'], logGroupArns(r)),
    ] : []),
    ...(batchMode ? [
      allow('LoadCreateTableFromSpec', ['dynamodb:CreateTable'], [table]),
      // BatchWriteItem puts the items; --prune deletes stale ones found by Scan.
      allow('LoadBatchWriteItemsAndPrune', ['dynamodb:BatchWriteItem', 'dynamodb:Scan'], [table]),
    ] : []),
    // A customer managed table key: creating the table grants DynamoDB its use; reads and writes go through DynamoDB.
    ...(r.tableKms ? [allow('LoadUseTableKeyThroughDynamoDB', [
      'kms:CreateGrant', 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*',
    ], [r.tableKms.resource], { StringEquals: { 'kms:ViaService': `dynamodb.${r.region}.amazonaws.com` }, ...(r.tableKms.condition ?? {}) })] : []),
  ];
}

function verifyPolicy(r: Resolved): PolicyStatement[] {
  const table = tableArn(r);
  return [
    // Extract manifest: the run's as_of (expired items) and the tables' columns (access patterns render source rows).
    // A sharded verify's shards write sorted sides and a fragment under verify/shards/; finalize reads them.
    // load/loaded/<table>.json: which transform the table holds (a verify of items it was never loaded with is refused).
    // load/verify.json: finalize keeps an unsharded verify's newer verdict over older fragments.
    allow('VerifyReadManifestsItemsShardsAndRunReport', ['s3:GetObject'], objects(r, EXTRACT_MANIFEST_KEY, TRANSFORM_MANIFEST_KEY, loadedKey(r.table), VERIFY_REPORT_KEY, 'items/*', `${VERIFY_SHARDS_PREFIX}/*`, RUN_REPORT)),
    writeObjects('VerifyWriteReportShardsAndRunReport', r, [VERIFY_REPORT_KEY, `${VERIFY_SHARDS_PREFIX}/*`, RUN_REPORT]),
    listBucket('Verify', r),
    ...s3Kms('Verify', r),
    // One Scan reads every item; GetItem rereads the few that differ, to name their attributes;
    // DescribeTimeToLive: only a table whose TTL is on may have lost expired items by itself.
    allow('VerifyDescribeScanAndRereadItems', ['dynamodb:DescribeTable', 'dynamodb:DescribeTimeToLive', 'dynamodb:Scan', 'dynamodb:GetItem'], [table]),
    allow('VerifyAccessPatternsOnTableAndIndexes', ['dynamodb:Query'], [table, `${table}/index/*`]),
    ...(r.tableKms ? [allow('VerifyReadThroughTableKey', ['kms:Decrypt', 'kms:DescribeKey'], [r.tableKms.resource], {
      StringEquals: { 'kms:ViaService': `dynamodb.${r.region}.amazonaws.com` }, ...(r.tableKms.condition ?? {}),
    })] : []),
  ];
}

const BUILDERS: Record<Stage, (r: Resolved) => PolicyStatement[]> = {
  extract: extractPolicy, transform: transformPolicy, load: loadPolicy, verify: verifyPolicy,
};

export function stagePolicy(config: IamPolicyConfig, stage: Stage): PolicyDocument {
  return { Version: '2012-10-17', Statement: BUILDERS[stage](resolve(config)) };
}

/**
 * One policy per stage, and one for an identity that runs them all. That one
 * must fit a managed policy's 6,144 characters, so statements granting the same
 * actions under the same condition are one statement over the union of their
 * resources: a statement several stages share (ListBucket, the S3 object key)
 * keeps its Sid without the stage; a merged one is named for its actions.
 */
export function iamPolicies(config: IamPolicyConfig): Record<Stage | 'all', PolicyDocument> {
  const r = resolve(config);
  const stages = Object.fromEntries(STAGES.map((s) => [s, { Version: '2012-10-17', Statement: BUILDERS[s](r) }])) as Record<Stage, PolicyDocument>;
  const grouped = new Map<string, PolicyStatement[]>();
  for (const s of STAGES.flatMap((stage) => stages[stage].Statement)) {
    const key = JSON.stringify([s.Action, s.Condition]);
    grouped.set(key, [...(grouped.get(key) ?? []), s]);
  }
  const all = [...grouped.values()].map((same): PolicyStatement => {
    const resources = [...new Set(same.flatMap((s) => s.Resource))];
    if (same.length === 1) return same[0]!;
    if (same.every((s) => JSON.stringify(s.Resource) === JSON.stringify(same[0]!.Resource))) {
      return { ...same[0]!, Sid: same[0]!.Sid.replace(/^(Extract|Transform|Load|Verify)/, '') };
    }
    const sid = `Stages${same[0]!.Action.map((a) => a.split(':')[1]).join('')}`;
    return { ...same[0]!, Sid: sid, Resource: resources };
  });
  return { ...stages, all: { Version: '2012-10-17', Statement: all } };
}

/** IAM's limit on a managed policy, counted without whitespace; an inline role policy may hold 10,240. */
export const MANAGED_POLICY_MAX_CHARS = 6144;

export function policySize(policy: PolicyDocument): number {
  return JSON.stringify(policy).length;
}

/** Every action a policy allows, sorted (what the tests and `--stage … --actions` compare). */
export function policyActions(policy: PolicyDocument): string[] {
  return [...new Set(policy.Statement.flatMap((s) => s.Action))].sort();
}

// ---- The roles that run the stages on AWS (docs/scale-out.md) --------------

/** The names the recipe gives the orchestration's resources (flags of `iam-policy --stage orchestration`). */
export interface OrchestrationNames {
  stateMachine: string;
  cluster: string;
  /** ECS task definition family (the Step Functions recipe) of the pg2ddb image. */
  taskDefinition: string;
  /** The stage's task/job role and the ECS task execution role, passed to ECS tasks. */
  taskRole: string;
  executionRole: string;
  /** Secrets Manager secret holding DATABASE_URL (the extract job's `secrets`). */
  secret: string;
}

export const RECIPE_NAMES: OrchestrationNames = {
  stateMachine: 'pg2ddb-transform', cluster: 'pg2ddb', taskDefinition: 'pg2ddb',
  taskRole: 'pg2ddb-transform', executionRole: 'ecsTaskExecutionRole', secret: 'pg2ddb/database-url',
};

/** Where the Distributed Map writes its results (ResultWriter), under the run. */

/**
 * The Step Functions role of the recipe's state machine: the Distributed Map
 * starts, watches and stops its child executions; the ItemReader reads
 * units.json and the ResultWriter writes under the run; each
 * `ecs:runTask.sync` state runs a task of the pg2ddb task definition, watches
 * it through the managed EventBridge rule, stops it when the execution is
 * stopped, and passes the task's two roles to ECS.
 * The Batch execution role: the job's secrets (ECR pull and logs come from
 * AWS's AmazonECSTaskExecutionRolePolicy, attached beside it).
 */
export function orchestrationPolicies(config: IamPolicyConfig, names: OrchestrationNames = RECIPE_NAMES): { 'step-functions': PolicyDocument; 'batch-execution': PolicyDocument } {
  const r = resolve(config);
  const account = r.account;
  const arn = (service: string, resource: string, region = r.region) => `arn:${r.partition}:${service}:${region}:${account}:${resource}`;
  const role = (name: string) => `arn:${r.partition}:iam::${account}:role/${name}`;
  const kms = r.s3Kms ? [allow('UseS3ObjectKeyThroughS3', ['kms:Decrypt', 'kms:GenerateDataKey'], [r.s3Kms.resource], {
    StringEquals: { 'kms:ViaService': `s3.${r.region}.amazonaws.com` }, ...(r.s3Kms.condition ?? {}),
  })] : [];
  const stepFunctions: PolicyStatement[] = [
    allow('DistributedMapRunsChildExecutions', ['states:StartExecution'], [arn('states', `stateMachine:${names.stateMachine}`)]),
    allow('DistributedMapWatchesAndStopsChildExecutions', ['states:DescribeExecution', 'states:StopExecution'], [arn('states', `execution:${names.stateMachine}/*`)]),
    allow('ItemReaderReadsUnits', ['s3:GetObject'], objects(r, TRANSFORM_UNITS_KEY)),
    allow('ResultWriterWritesMapResults', ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'], objects(r, `${MAP_RESULTS_KEY}/*`)),
    ...kms,
    allow('RunTasksOfThePg2ddbTaskDefinition', ['ecs:RunTask'], [arn('ecs', `task-definition/${names.taskDefinition}`), arn('ecs', `task-definition/${names.taskDefinition}:*`)],
      { ArnEquals: { 'ecs:cluster': arn('ecs', `cluster/${names.cluster}`) } }),
    allow('WatchAndStopItsTasks', ['ecs:DescribeTasks', 'ecs:StopTask'], [arn('ecs', `task/${names.cluster}/*`)]),
    allow('SyncTasksThroughTheManagedEventRule', ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'], [arn('events', 'rule/StepFunctionsGetEventsForECSTaskRule')]),
    allow('PassTheTaskRolesToEcs', ['iam:PassRole'], [role(names.taskRole), role(names.executionRole)], { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } }),
  ];
  const batchExecution: PolicyStatement[] = [
    // Secrets Manager appends 6 random characters to a secret's name in its ARN.
    allow('ReadTheJobSecrets', ['secretsmanager:GetSecretValue'], [arn('secretsmanager', `secret:${names.secret}-??????`)]),
  ];
  return {
    'step-functions': { Version: '2012-10-17', Statement: stepFunctions },
    'batch-execution': { Version: '2012-10-17', Statement: batchExecution },
  };
}
