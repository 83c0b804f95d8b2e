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
//
// catchup applies a FOLLOW=1 run's changes to the table; cutover runs
// catchup's code, then the extract, transform and verify CLIs on a fresh run
// (<run>-cutover), so its policy is catchup's plus theirs on that run.
import path from 'node:path';
import { checkRunId } from '../lib/config.ts';
import { UserError } from '../lib/errors.ts';
import { parseStoreUri } from '../lib/store-uri.ts';
import { checkTableName } from '../model/table-spec.ts';
import { LOCKS_PREFIX } from '../lib/run-lock.ts';
import { CATCHUP_REJECTS_PREFIX, CATCHUP_TARGET_KEY, EXTRACT_MANIFEST_KEY, EXTRACT_PLAN_KEY, EXTRACT_SHARDS_PREFIX, IMPORT_RECORD_KEY, LOAD_REPORT_KEY, LOADED_KEYS_PREFIX, loadedKey, MAP_RESULTS_KEY, RUN_REPORT_KEY, TRANSFORM_MANIFEST_KEY, TRANSFORM_UNITS_KEY, VERIFY_REPORT_KEY, VERIFY_SHARDS_PREFIX, writeCheckKey } from '../lib/run-layout.ts';

/** catchup/target.json and catchup/rejects/*. */
const CATCHUP_FOLDER = path.posix.dirname(CATCHUP_TARGET_KEY);

export const STAGES = ['extract', 'transform', 'load', 'verify', 'catchup', 'cutover'] as const;
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
  /** Cutover: the run it extracts afresh (cutover --fresh-run; default `<run>-cutover`, any run without RUN). */
  freshRun?: string;
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
  /** Cutover's fresh run, as runKeys. */
  freshRunKeys: string;
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
  if (config.freshRun !== undefined) checkRunId(config.freshRun);
  if (config.freshRun !== undefined && config.freshRun === config.run) throw new UserError('the fresh run must name another run than RUN: cutover extracts it afresh');
  // Without RUN every run is allowed already, the fresh one too.
  const freshRun = config.run ? config.freshRun ?? `${config.run}-cutover` : '*';
  const keys = (id: string) => (prefix ? `${prefix}/${id}` : id);
  return {
    ...base,
    bucket,
    runKeys: keys(run),
    freshRunKeys: keys(freshRun),
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
/** The table's customer managed key, used through DynamoDB only: none without one. */
function tableKms(sid: string, r: Resolved, actions: string[]): PolicyStatement[] {
  if (!r.tableKms) return [];
  return [allow(sid, actions, [r.tableKms.resource], {
    StringEquals: { 'kms:ViaService': `dynamodb.${r.region}.amazonaws.com` },
    ...(r.tableKms.condition ?? {}),
  })];
}

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
    ...tableKms('LoadUseTableKeyThroughDynamoDB', r, ['kms:CreateGrant', 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*']),
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
    ...tableKms('VerifyReadThroughTableKey', r, ['kms:Decrypt', 'kms:DescribeKey']),
  ];
}

function catchupPolicy(r: Resolved): PolicyStatement[] {
  const table = tableArn(r);
  return [
    // Catchup follows a FOLLOW=1 extract (its slot) transformed without --drop-expired, and only into the table
    // the run was loaded into (load/loaded/<table>.json): lib/loaded-tables.ts requireLoadedFrom.
    // Catchup records the table it applies changes to (catchup/target.json) before its first write, and a
    // catchup into another table is refused: lib/loaded-tables.ts checkCatchupTarget, recordCatchupTarget.
    allow('CatchupReadManifestsLoadRecordAndTarget', ['s3:GetObject'], objects(r, EXTRACT_MANIFEST_KEY, TRANSFORM_MANIFEST_KEY, loadedKey(r.table), CATCHUP_TARGET_KEY)),
    // That record, and one rejects file per batch, replaced by a rerun of the batch, or deleted when the rerun has
    // none (catchup/catchup.ts storeRejects): catchup/ is catchup's alone, so one resource (a managed policy's size).
    writeObjects('CatchupWriteItsFolder', r, [`${CATCHUP_FOLDER}/*`]),
    allow('CatchupDeleteRejectsOfARerunBatch', ['s3:DeleteObject'], objects(r, `${CATCHUP_REJECTS_PREFIX}/*`)),
    listBucket('Catchup', r),
    ...s3Kms('Catchup', r),
    // BatchWriteItem puts and deletes the changed items; Query (the table, strongly consistent) finds the items
    // of a joined key that moved. No index is queried.
    allow('CatchupWriteChangesAndQueryMovedItems', ['dynamodb:BatchWriteItem', 'dynamodb:Query'], [table]),
    // Reads and writes through DynamoDB with a customer managed table key (as CDK's grantReadWriteData grants it).
    ...tableKms('CatchupReadAndWriteThroughTableKey', r, ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*']),
  ];
}

/**
 * Catchup's drain, then (catchup/cutover-cli.ts) the extract, transform and
 * verify CLIs on the fresh run, which cutover records as loaded into the table
 * (load/loaded/<table>.json) before verify compares them: each stage's own
 * statements, on the fresh run's keys, merged where they grant the same.
 */
function cutoverPolicy(r: Resolved): PolicyStatement[] {
  const fresh: Resolved = { ...r, runKeys: r.freshRunKeys };
  return mergeStatements([
    ...catchupPolicy(r),
    ...extractPolicy(fresh), ...transformPolicy(fresh), ...verifyPolicy(fresh),
    writeObjects('CutoverRecordTheFreshRunAsLoaded', fresh, [loadedKey(r.table)]),
  ], 'Cutover');
}

const BUILDERS: Record<Stage, (r: Resolved) => PolicyStatement[]> = {
  extract: extractPolicy, transform: transformPolicy, load: loadPolicy, verify: verifyPolicy, catchup: catchupPolicy, cutover: cutoverPolicy,
};

export function stagePolicy(config: IamPolicyConfig, stage: Stage): PolicyDocument {
  return { Version: '2012-10-17', Statement: BUILDERS[stage](resolve(config)) };
}

/**
 * One policy per stage, and one for an identity that runs them all. That one
 * must fit a managed policy's 6,144 characters, so statements granting the same
 * actions under the same condition are one statement over the union of their
 * resources: a statement several stages share (ListBucket, the S3 object key)
 * keeps its Sid without the stage; a merged one is named for its actions. The
 * statements on the table alone, on its key, and on the import log group are
 * then one statement each, of all their actions.
 */
export function iamPolicies(config: IamPolicyConfig): Record<Stage | 'all', PolicyDocument> {
  const r = resolve(config);
  const stages = Object.fromEntries(STAGES.map((s) => [s, { Version: '2012-10-17', Statement: BUILDERS[s](r) }])) as Record<Stage, PolicyDocument>;
  const table = tableArn(r);
  const viaDynamoDB = (s: PolicyStatement) => (s.Condition?.StringEquals as Record<string, string> | undefined)?.['kms:ViaService']?.startsWith('dynamodb.') === true;
  let all = mergeStatements(STAGES.flatMap((stage) => stages[stage].Statement), '');
  all = folded(all, (s) => !s.Condition && s.Resource.length === 1 && s.Resource[0] === table, 'StagesUseTheTable');
  all = folded(all, viaDynamoDB, 'StagesUseTheTableKeyThroughDynamoDB');
  all = folded(all, (s) => JSON.stringify(s.Resource) === JSON.stringify(logGroupArns(r)), 'LoadImportTableLogGroup');
  return { ...stages, all: { Version: '2012-10-17', Statement: all } };
}

/**
 * The statements `which` picks, which share their resources and condition
 * (the stages' calls on the table, their use of its key, the import's log
 * group), as one granting all their actions, in place of the first.
 */
function folded(statements: PolicyStatement[], which: (s: PolicyStatement) => boolean, Sid: string): PolicyStatement[] {
  const picked = statements.filter(which);
  if (picked.length < 2) return statements;
  const one = { ...picked[0]!, Sid, Action: [...new Set(picked.flatMap((s) => s.Action))] };
  if (picked.some((s) => JSON.stringify([s.Resource, s.Condition]) !== JSON.stringify([one.Resource, one.Condition]))) throw new Error(`${Sid}: statements over other resources`);
  return statements.flatMap((s) => (s === picked[0] ? [one] : which(s) ? [] : [s]));
}

/**
 * One statement per actions and condition: a statement alone keeps its Sid;
 * several over the same resources keep one Sid, `name` in place of the stage;
 * several over different resources grant their union, named for their actions.
 */
function mergeStatements(statements: PolicyStatement[], name: string): PolicyStatement[] {
  const grouped = new Map<string, PolicyStatement[]>();
  for (const s of statements) {
    // Listings of the bucket merge whatever runs they list (cutover's two): their s3:prefix values are unioned.
    const key = JSON.stringify(listingPrefixes(s) ? ['listing', s.Action, s.Resource] : [s.Action, s.Condition]);
    grouped.set(key, [...(grouped.get(key) ?? []), s]);
  }
  return [...grouped.values()].map((same): PolicyStatement => {
    if (same.length === 1) return same[0]!;
    const prefixes = listingPrefixes(same[0]!) && [...new Set(same.flatMap((s) => listingPrefixes(s)!))];
    const condition = prefixes ? { Condition: { StringLikeIfExists: { 's3:prefix': prefixes } } } : {};
    const merged = { ...same[0]!, ...condition, Resource: uncovered([...new Set(same.flatMap((s) => s.Resource))]) };
    if (same.every((s) => JSON.stringify(s.Resource) === JSON.stringify(same[0]!.Resource))) {
      return { ...merged, Sid: same[0]!.Sid.replace(/^(Extract|Transform|Load|Verify|Catchup|Cutover)/, name) };
    }
    return { ...merged, Sid: `${name || 'Stages'}${same[0]!.Action.map((a) => a.split(':')[1]!.replace(/\*$/, '')).join('')}` };
  });
}

/** The s3:prefix values of a listing whose only condition they are (listBucket's), else undefined. */
function listingPrefixes(s: PolicyStatement): string[] | undefined {
  const only = JSON.stringify(Object.keys(s.Condition ?? {})) === '["StringLikeIfExists"]' && JSON.stringify(Object.keys(s.Condition!.StringLikeIfExists!)) === '["s3:prefix"]';
  return only && s.Action.includes('s3:ListBucket') ? [s.Condition!.StringLikeIfExists!['s3:prefix']!].flat() : undefined;
}

/** Resources less those another of them matches already (`…/extract/*` covers `…/extract/manifest.json`). */
function uncovered(resources: string[]): string[] {
  const matches = (pattern: string, arn: string) =>
    new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*')}$`).test(arn);
  return resources.filter((arn) => !resources.some((other) => other !== arn && other.includes('*') && matches(other, arn)));
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
