// docs/scale-out.md is deployed as written: its state machine and Batch job
// definition are read from the doc and checked (the structure AWS would refuse
// or that fails at run time), and every AWS call the state machine makes is
// allowed by `iam-policy --stage orchestration` for the names the doc uses.
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { orchestrationPolicies, type PolicyDocument } from '../plan/iam-policy.ts';
import { REPO } from './cli.ts';
import { MAP_RESULTS_KEY } from '../lib/run-layout.ts';

const doc = readFileSync(path.join(REPO, 'docs/scale-out.md'), 'utf8');
const jsonBlocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map(([, text]) => JSON.parse(text!) as Record<string, unknown>);

type State = Record<string, any>;
const machine = jsonBlocks.find((b) => 'StartAt' in b) as { StartAt: string; States: Record<string, State> };
const jobDefinition = jsonBlocks.find((b) => 'jobDefinitionName' in b) as Record<string, any>;

/** Every state of the machine and of its maps' processors, by name. */
function allStates(states: Record<string, State>): [string, State][] {
  return Object.entries(states).flatMap(([name, s]) => [[name, s] as [string, State], ...(s.ItemProcessor ? allStates(s.ItemProcessor.States) : [])]);
}

/** IAM's wildcard match (* and ?) of an ARN pattern against a concrete ARN. */
function arnMatches(pattern: string, arn: string): boolean {
  return new RegExp(`^${pattern.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/]/g, '\\$&'))).join('')}$`).test(arn);
}

function allows(policy: PolicyDocument, action: string, resource: string): boolean {
  return policy.Statement.some((s) => s.Action.includes(action) && s.Resource.some((r) => arnMatches(r, resource)));
}

test('the state machine is well formed: every Next exists, one path ends, the map is distributed with reader and writer', (t) => {
  t.truthy(machine, 'the doc holds a state machine');
  const check = (states: Record<string, State>, startAt: string, where: string) => {
    t.truthy(states[startAt], `${where}: StartAt ${startAt} exists`);
    for (const [name, s] of Object.entries(states)) {
      t.true(['Task', 'Map', 'Pass', 'Choice', 'Succeed', 'Fail', 'Wait', 'Parallel'].includes(s.Type), `${name}: Type`);
      t.true((s.End === true) !== (typeof s.Next === 'string'), `${name}: exactly one of Next and End`);
      if (s.Next) t.truthy(states[s.Next], `${name}: Next ${s.Next} exists`);
      if (s.Type === 'Task') t.regex(s.Resource, /^arn:aws:states:::/, `${name}: an integration`);
      for (const key of Object.keys(s.Parameters ?? {})) if (key.endsWith('.$')) t.regex(JSON.stringify(s.Parameters[key]), /^"(\$|States\.)/, `${name}.${key}: a path or intrinsic`);
    }
  };
  check(machine.States, machine.StartAt, 'machine');
  const maps = allStates(machine.States).filter(([, s]) => s.Type === 'Map');
  t.is(maps.length, 1);
  const [, map] = maps[0]!;
  t.is(map.ItemProcessor.ProcessorConfig.Mode, 'DISTRIBUTED');
  check(map.ItemProcessor.States, map.ItemProcessor.StartAt, 'map');
  t.is(map.ItemReader.Resource, 'arn:aws:states:::s3:getObject');
  t.is(map.ItemReader.ReaderConfig.InputType, 'JSON');
  t.is(map.ResultWriter.Resource, 'arn:aws:states:::s3:putObject', 'the map writes its results to S3, not into the state');
  t.deepEqual(Object.keys(map.ResultWriter.Parameters).sort(), ['Bucket.$', 'Prefix.$']);
  t.is(map.ResultPath, null);
  t.true(map.MaxConcurrency <= 10_000);
  // Each child's ECS task description is dropped: a few hundred of them exceed 256 KiB (States.DataLimitExceeded).
  for (const [name, s] of Object.entries(map.ItemProcessor.States as Record<string, State>)) {
    if (s.End) t.true('OutputPath' in s && s.OutputPath === null, `${name}: OutputPath null`);
  }
  t.is(map.ItemSelector['shard.$'], '$$.Map.Item.Value.shard', 'each item is a shard of units.json');
});

test('retries: a task that ran and failed is retried only for a shard; finalize\'s exit 3 and a failed transform joins are not retried, start failures are', (t) => {
  for (const [name, s] of allStates(machine.States).filter(([, x]) => x.Type === 'Task')) {
    const errors: string[] = (s.Retry ?? []).flatMap((r: { ErrorEquals: string[] }) => r.ErrorEquals);
    t.true(errors.includes('ECS.AmazonECSException'), `${name} retries a task that could not start`);
    t.false(errors.includes('States.ALL'), `${name}: no catch-all retry`);
    const command = JSON.stringify(s.Parameters.Overrides);
    if (/'finalize'|'units'|'joins'/.test(command)) t.false(errors.includes('States.TaskFailed'), `${name}: a deterministic failure is not retried`);
    else t.true(errors.includes('States.TaskFailed'), `${name}: a shard is rerun`);
    const vpc = s.Parameters.NetworkConfiguration.AwsvpcConfiguration;
    t.true(vpc.SecurityGroups?.length > 0, `${name}: explicit security groups`);
    t.is(vpc.AssignPublicIp, 'DISABLED');
  }
  // Batch: finalize's exit 3 ends the job; anything else (a Spot reclaim, a lost host) is retried.
  const onExit = jobDefinition.retryStrategy.evaluateOnExit as { onExitCode?: string; onStatusReason?: string; onReason?: string; action: string }[];
  t.deepEqual(onExit[0], { onExitCode: '3', action: 'EXIT' });
  t.is(onExit.at(-1)!.action, 'RETRY');
});

test('the orchestration roles allow every call the state machine makes, on the resources the doc names', (t) => {
  const roles = orchestrationPolicies({ store: 's3://bucket/migrations', run: '2026-11-28', table: 'pg2ddb-2026-11-28', region: 'us-east-1', accountId: '123456789012', loadMode: 'import' });
  const sfn = roles['step-functions'];
  const states = allStates(machine.States);
  const needed: [string, string][] = [
    // A Distributed Map runs each child as an execution of this state machine.
    ['states:StartExecution', 'arn:aws:states:us-east-1:123456789012:stateMachine:pg2ddb-transform'],
    ['states:DescribeExecution', 'arn:aws:states:us-east-1:123456789012:execution:pg2ddb-transform/abc:1'],
    ['states:StopExecution', 'arn:aws:states:us-east-1:123456789012:execution:pg2ddb-transform/abc:1'],
  ];
  for (const [, s] of states) {
    if (s.Resource === 'arn:aws:states:::ecs:runTask.sync') {
      const { Cluster, TaskDefinition } = s.Parameters;
      const cluster = /cluster\/(.+)$/.exec(Cluster)![1];
      needed.push(['ecs:RunTask', TaskDefinition], ['ecs:RunTask', `${TaskDefinition}:7`],
        ['ecs:DescribeTasks', `arn:aws:ecs:us-east-1:123456789012:task/${cluster}/0123abcd`], ['ecs:StopTask', `arn:aws:ecs:us-east-1:123456789012:task/${cluster}/0123abcd`],
        ...['events:PutTargets', 'events:PutRule', 'events:DescribeRule'].map((a) => [a, 'arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForECSTaskRule'] as [string, string]),
        ['iam:PassRole', 'arn:aws:iam::123456789012:role/pg2ddb-transform'], ['iam:PassRole', 'arn:aws:iam::123456789012:role/ecsTaskExecutionRole']);
      const ecs = sfn.Statement.find((x) => x.Action.includes('ecs:RunTask'))!;
      t.deepEqual(ecs.Condition, { ArnEquals: { 'ecs:cluster': Cluster } }, 'RunTask only in the doc\'s cluster');
    } else if (s.Type === 'Task') {
      t.fail(`${s.Resource}: a call this test does not map to IAM`);
    }
    if (s.ItemReader) needed.push(['s3:GetObject', 'arn:aws:s3:::bucket/migrations/2026-11-28/transform/units.json']);
    if (s.ResultWriter) {
      for (const a of ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts']) needed.push([a, `arn:aws:s3:::bucket/migrations/2026-11-28/${MAP_RESULTS_KEY}/0123/SUCCEEDED_0.json`]);
    }
  }
  for (const [action, resource] of needed) t.true(allows(sfn, action, resource), `${action} on ${resource}`);
  // The start input the doc gives points the reader and writer where the policy allows.
  const input = JSON.parse(/Start it with\s*`(\{[^`]*\})`/.exec(doc)![1]!);
  t.true(allows(sfn, 's3:GetObject', `arn:aws:s3:::${input.bucket}/${input.units_key}`));
  t.true(allows(sfn, 's3:PutObject', `arn:aws:s3:::${input.bucket}/${input.results_prefix}/x/manifest.json`));
  // PassRole only to ECS tasks.
  t.deepEqual(sfn.Statement.find((x) => x.Action.includes('iam:PassRole'))!.Condition, { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
  // Nothing on "*", and nothing the calls do not need.
  t.false(sfn.Statement.some((x) => x.Resource.includes('*')));
  const neededActions = new Set(needed.map(([a]) => a));
  t.deepEqual(sfn.Statement.flatMap((x) => x.Action).filter((a) => !neededActions.has(a)), []);
  // The Batch execution role reads the recipe's secret (its ARN ends in 6 random characters), nothing else.
  const batch = roles['batch-execution'];
  t.true(allows(batch, 'secretsmanager:GetSecretValue', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:pg2ddb/database-url-AbCdEf'));
  t.false(allows(batch, 'secretsmanager:GetSecretValue', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:other-AbCdEf'));
  t.deepEqual(batch.Statement.flatMap((x) => x.Action), ['secretsmanager:GetSecretValue']);
  t.regex(doc, /valueFrom.*secret:pg2ddb\/database-url/, 'the doc\'s job definition takes DATABASE_URL from that secret');
});
