// `iam-policy`: parses arguments and prints the policy iam-policy.ts builds.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { parseCli } from '../lib/config.ts';
import { UserError } from '../lib/errors.ts';
import { runCli } from '../lib/log.ts';
import { MANAGED_POLICY_MAX_CHARS, RECIPE_NAMES, STAGES, iamPolicies, orchestrationPolicies, policySize, type LoadMode, type PolicyDocument, type Stage } from './iam-policy.ts';

const usage = `iam-policy: the least-privilege IAM policy each stage needs, as JSON

Usage: iam-policy [options]

Objects only under <store>/<run>/ (every run under the prefix without RUN),
the table, its indexes and imports, the log group /aws-dynamodb/imports.
--stage all (the default): one identity's policy for every stage;
--stage extract|transform|load|verify|catchup: the policy of the role running it;
--stage cutover: catchup's, and extract, transform and verify on its fresh run
(<run>-cutover, or --fresh-run), which cutover runs with the same identity.
--stage orchestration: the roles that run the stages on AWS (docs/scale-out.md), as
{"step-functions": policy, "batch-execution": policy}: the state machine's role (child
executions, units.json, map results, ECS tasks and their event rule, PassRole to ECS) and
the Batch/ECS execution role (the job's secret); --stage step-functions|batch-execution for one.`;

const ORCHESTRATION = ['orchestration', 'step-functions', 'batch-execution'] as const;

await runCli('iam-policy', async () => {
  const args = await parseCli(yargs(hideBin(process.argv)).usage(usage)
    .option('store', { type: 'string', default: process.env.STORE || undefined, defaultDescription: '$STORE', describe: 'The storage root: s3://bucket/prefix' })
    .option('run', { type: 'string', default: process.env.RUN || undefined, defaultDescription: '$RUN, else every run under the prefix', describe: 'Only this run id' })
    .option('ddb-table', { type: 'string', default: process.env.DDB_TABLE || undefined, defaultDescription: '$DDB_TABLE or pg2ddb-<run>', describe: 'The DynamoDB table' })
    .option('region', { type: 'string', default: process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || undefined, defaultDescription: '$AWS_REGION', describe: 'The region of the table and log group' })
    .option('account-id', { type: 'string', default: process.env.AWS_ACCOUNT_ID || undefined, defaultDescription: '$AWS_ACCOUNT_ID, else * in ARNs', describe: 'The 12-digit account of the table' })
    .option('mode', {
      choices: ['import', 'batch', 'both'] as const,
      default: (process.env.MODE || 'import') as LoadMode,
      defaultDescription: '$MODE or import',
      describe: 'Load: ImportTable, BatchWriteItem, or both',
    })
    .option('kms-key-id', { type: 'string', default: process.env.S3_SSE_KMS_KEY_ID || undefined, defaultDescription: '$S3_SSE_KMS_KEY_ID', describe: 'KMS key of the S3 objects (SSE-KMS): key id, ARN or alias/name' })
    .option('table-kms-key-id', { type: 'string', describe: 'Customer managed KMS key of the table (load --kms-key-id)' })
    .option('fresh-run', { type: 'string', defaultDescription: '<run>-cutover', describe: 'cutover: the run it extracts afresh (cutover --fresh-run)' })
    .option('stage', { choices: [...STAGES, 'all', ...ORCHESTRATION] as const, default: 'all' as Stage | 'all' | (typeof ORCHESTRATION)[number], describe: 'Which stage, or the orchestration\'s roles' })
    .option('state-machine', { type: 'string', default: RECIPE_NAMES.stateMachine, describe: 'orchestration: the state machine\'s name' })
    .option('cluster', { type: 'string', default: RECIPE_NAMES.cluster, describe: 'orchestration: the ECS cluster\'s name' })
    .option('task-definition', { type: 'string', default: RECIPE_NAMES.taskDefinition, describe: 'orchestration: the ECS task definition family' })
    .option('task-role', { type: 'string', default: RECIPE_NAMES.taskRole, describe: 'orchestration: the task (job) role\'s name' })
    .option('execution-role', { type: 'string', default: RECIPE_NAMES.executionRole, describe: 'orchestration: the task execution role\'s name' })
    .option('secret', { type: 'string', default: RECIPE_NAMES.secret, describe: 'orchestration: the Secrets Manager secret with DATABASE_URL' })
    .example('STORE=s3://my-bucket/serenya RUN=2026-11-28 DDB_TABLE=serenya AWS_REGION=eu-west-1 iam-policy --stage load', 'the load role')
    .example('iam-policy --store s3://my-bucket/serenya --ddb-table serenya --region eu-west-1 --account-id 111122223333', 'one identity for every stage and run'), 'iam-policy');

  if (!args.store) throw new UserError('no store: set STORE=s3://bucket/prefix or --store');
  if (!args.region) throw new UserError('no region: set AWS_REGION or --region');
  const table = args['ddb-table'] ?? (args.run ? `pg2ddb-${args.run}` : undefined);
  if (!table) throw new UserError('no table: set DDB_TABLE or --ddb-table (or RUN, for the default pg2ddb-<run>)');
  const config = {
    store: args.store,
    ...(args.run ? { run: args.run } : {}),
    table,
    region: args.region,
    ...(args['account-id'] ? { accountId: args['account-id'] } : {}),
    loadMode: args.mode,
    ...(args['kms-key-id'] ? { s3KmsKeyId: args['kms-key-id'] } : {}),
    ...(args['table-kms-key-id'] ? { tableKmsKeyId: args['table-kms-key-id'] } : {}),
    ...(args['fresh-run'] ? { freshRun: args['fresh-run'] } : {}),
  };
  const stage = args.stage;
  if (stage === 'orchestration' || stage === 'step-functions' || stage === 'batch-execution') {
    const roles = orchestrationPolicies(config, {
      stateMachine: args['state-machine'], cluster: args.cluster, taskDefinition: args['task-definition'],
      taskRole: args['task-role'], executionRole: args['execution-role'], secret: args.secret,
    });
    process.stdout.write(`${JSON.stringify(stage === 'orchestration' ? roles : roles[stage], null, 2)}\n`);
    return;
  }
  const policy: PolicyDocument = iamPolicies(config)[stage];
  process.stdout.write(`${JSON.stringify(policy, null, 2)}\n`);
  const size = policySize(policy);
  if (size > MANAGED_POLICY_MAX_CHARS) {
    process.stderr.write(`iam-policy: note: ${size} characters, over the ${MANAGED_POLICY_MAX_CHARS} of a managed policy: attach it inline to a role (10,240), or one policy per --stage\n`);
  }
});
