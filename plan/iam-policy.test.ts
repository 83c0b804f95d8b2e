import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStorage } from '../lib/storage.ts';
import { MANAGED_POLICY_MAX_CHARS, STAGES, iamPolicies, orchestrationPolicies, policyActions, policySize, stagePolicy, type IamPolicyConfig, type PolicyDocument, type Stage } from './iam-policy.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));

const config: IamPolicyConfig = {
  store: 's3://my-bucket/serenya', run: '2026-11-28', table: 'serenya', region: 'eu-west-1', accountId: '111122223333', loadMode: 'import',
};

test('each stage allows exactly the actions its code needs', (t) => {
  const p = iamPolicies({ ...config, loadMode: 'both' });
  t.deepEqual(policyActions(p.extract), ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject']);
  t.deepEqual(policyActions(p.transform), ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject']);
  t.deepEqual(policyActions(p.verify), ['dynamodb:DescribeTable', 'dynamodb:DescribeTimeToLive', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan', 's3:AbortMultipartUpload', 's3:GetObject', 's3:ListBucket', 's3:PutObject']);
  const settings = ['dynamodb:DescribeContinuousBackups', 'dynamodb:DescribeTable', 'dynamodb:DescribeTimeToLive', 'dynamodb:TagResource', 'dynamodb:UpdateContinuousBackups', 'dynamodb:UpdateTable', 'dynamodb:UpdateTimeToLive'];
  const s3 = ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject'];
  t.deepEqual(policyActions(stagePolicy({ ...config, loadMode: 'import' }, 'load')), [
    ...settings, 'dynamodb:DescribeImport', 'dynamodb:ImportTable', 'dynamodb:ListImports',
    'logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:DescribeLogGroups', 'logs:DescribeLogStreams', 'logs:FilterLogEvents', 'logs:PutLogEvents', 'logs:PutRetentionPolicy',
    's3:GetBucketLocation', ...s3,
  ].sort());
  t.deepEqual(policyActions(stagePolicy({ ...config, loadMode: 'batch' }, 'load')), [...settings, 'dynamodb:BatchWriteItem', 'dynamodb:CreateTable', 'dynamodb:Scan', ...s3].sort());
  t.deepEqual(policyActions(p.catchup), ['dynamodb:BatchWriteItem', 'dynamodb:Query', ...s3].sort());
  // Cutover: catchup's, and the extract, transform and verify it runs on the fresh run.
  t.deepEqual(policyActions(p.cutover), [...new Set(['catchup', 'extract', 'transform', 'verify'].flatMap((stage) => policyActions(p[stage as Stage])))].sort());
  // No stage may delete an object but its own write check, transform's stale item files, extract's run lock and a retired sharded plan, and catchup's rejects, nor delete a table or an item outside BatchWriteItem.
  for (const stage of STAGES) {
    const actions = policyActions(p[stage]);
    t.false(actions.some((a) => /^(dynamodb:Delete|s3:Delete(Bucket)|.*\*$)/.test(a) && a !== 'kms:GenerateDataKey*'), stage);
  }
});

test('resources are scoped to the run, the table, its indexes and imports, and the import log group', (t) => {
  const p = iamPolicies({ ...config, loadMode: 'both' });
  const star = ['LoadFindItsImportByClientToken', 'LoadImportTableFindsItsLogGroup'];
  for (const [name, policy] of Object.entries(p)) {
    for (const s of policy.Statement) {
      t.regex(s.Sid, /^[A-Za-z0-9]+$/, 'a Sid is alphanumeric');
      if (star.includes(s.Sid)) {
        // Only ListImports and DescribeLogGroups, which AWS authorizes on "*" alone.
        t.deepEqual(s.Resource, ['*'], s.Sid);
        t.true(s.Action.every((a) => a === 'dynamodb:ListImports' || a === 'logs:DescribeLogGroups'), s.Sid);
        continue;
      }
      for (const resource of s.Resource) {
        t.not(resource, '*', `${name} ${s.Sid}`);
        // Cutover also writes its fresh run, <run>-cutover.
        const fresh = (name === 'cutover' || name === 'all') && resource.startsWith('arn:aws:s3:::my-bucket/serenya/2026-11-28-cutover/');
        const ok = resource === 'arn:aws:s3:::my-bucket' || fresh
          || resource.startsWith('arn:aws:s3:::my-bucket/serenya/2026-11-28/')
          || /^arn:aws:dynamodb:eu-west-1:111122223333:table\/serenya(\/index\/\*|\/import\/\*)?$/.test(resource)
          || /^arn:aws:logs:eu-west-1:111122223333:log-group:\/aws-dynamodb\/imports(:\*)?$/.test(resource);
        t.true(ok, `${name} ${s.Sid}: ${resource}`);
      }
    }
    t.is(new Set(policy.Statement.map((s) => s.Sid)).size, policy.Statement.length, `${name}: unique Sids`);
  }
  // Writes land only where the stage writes.
  const writes = (policy: PolicyDocument) => policy.Statement.filter((s) => s.Action.includes('s3:PutObject')).flatMap((s) => s.Resource).sort();
  const run = 'arn:aws:s3:::my-bucket/serenya/2026-11-28';
  t.deepEqual(writes(p.extract), [`${run}/.locks/extract/*`, `${run}/extract/*`, `${run}/report.json`]);
  t.deepEqual(writes(p.transform), [`${run}/items/*`, `${run}/report.json`, `${run}/transform/*`]);
  t.deepEqual(writes(p.load), [`${run}/load/.write-check`, `${run}/load/import.json`, `${run}/load/keys/*`, `${run}/load/loaded/serenya.json`, `${run}/load/report.json`, `${run}/report.json`]);
  t.deepEqual(writes(p.verify), [`${run}/load/verify.json`, `${run}/report.json`, `${run}/verify/shards/*`]);
  t.deepEqual(writes(p.catchup), [`${run}/catchup/*`]);
  // The fresh run: what extract, transform and verify write, and the record that the table holds it (load/loaded/<table>.json).
  const fresh = `${run}-cutover`;
  t.deepEqual(writes(p.cutover), [`${fresh}/.locks/extract/*`, `${fresh}/extract/*`, `${fresh}/items/*`, `${fresh}/load/loaded/serenya.json`, `${fresh}/load/verify.json`, `${fresh}/report.json`, `${fresh}/transform/*`, `${fresh}/verify/shards/*`, `${run}/catchup/*`]);
  t.deepEqual(p.catchup.Statement.filter((s) => s.Action.includes('s3:DeleteObject')).flatMap((s) => s.Resource), [`${run}/catchup/rejects/*`]);
  t.deepEqual(p.catchup.Statement.filter((s) => s.Action.includes('s3:GetObject')).flatMap((s) => s.Resource).sort(),
    [`${run}/catchup/target.json`, `${run}/extract/manifest.json`, `${run}/load/loaded/serenya.json`, `${run}/transform/manifest.json`]);
  // Catchup queries the table, never an index.
  t.deepEqual(p.catchup.Statement.filter((s) => s.Action.some((a) => a.startsWith('dynamodb:'))).flatMap((s) => s.Resource), ['arn:aws:dynamodb:eu-west-1:111122223333:table/serenya']);
  t.deepEqual(p.extract.Statement.filter((s) => s.Action.includes('s3:DeleteObject')).flatMap((s) => s.Resource).sort(),
    [`${run}/.locks/extract/*`, `${run}/extract/.write-check`, `${run}/extract/plan.json`, `${run}/extract/shards/*`]);
  t.deepEqual(p.extract.Statement.filter((s) => s.Action.includes('s3:GetObject')).flatMap((s) => s.Resource).sort(),
    [`${run}/.locks/extract/*`, `${run}/extract/manifest.json`, `${run}/extract/plan.json`, `${run}/extract/shards/*`, `${run}/report.json`]);
  t.deepEqual(p.transform.Statement.find((s) => s.Action.includes('s3:DeleteObject'))!.Resource, [`${run}/items/*`, `${run}/transform/.write-check`]);
  t.deepEqual(p.load.Statement.find((s) => s.Action.includes('s3:DeleteObject'))!.Resource, [`${run}/load/.write-check`]);
  // An identity for every stage fits IAM's 6,144-character managed policy limit (whitespace not counted).
  t.true(policySize(p.all) < MANAGED_POLICY_MAX_CHARS, `${policySize(p.all)} characters`);
  // Statements the stages share appear once in it, without the stage in their Sid.
  t.is(p.all.Statement.filter((s) => s.Action.includes('s3:ListBucket')).length, 1);
  t.true(p.all.Statement.some((s) => s.Sid === 'ListBucketForHeadBucketListingsAndNotFound'));
  t.deepEqual(policyActions(p.all), [...new Set(STAGES.flatMap((stage) => policyActions(p[stage])))].sort());
});

test('without RUN or account the ARNs say every run and any account; a prefix-less store and other partitions work', (t) => {
  const p = stagePolicy({ store: 's3://b-1/', table: 'tbl', region: 'cn-north-1', loadMode: 'import' }, 'load');
  const resources = p.Statement.flatMap((s) => s.Resource);
  t.true(resources.includes('arn:aws-cn:s3:::b-1/*/items/*'));
  t.true(resources.includes('arn:aws-cn:dynamodb:cn-north-1:*:table/tbl'));
  t.true(resources.includes('arn:aws-cn:logs:cn-north-1:*:log-group:/aws-dynamodb/imports'));
});

test('a KMS key adds GenerateDataKey and Decrypt through S3 to every stage; a table key adds its use through DynamoDB', (t) => {
  const p = iamPolicies({ ...config, s3KmsKeyId: '1234abcd-12ab-34cd-56ef-1234567890ab', tableKmsKeyId: 'alias/serenya' });
  for (const stage of STAGES) {
    const s = p[stage].Statement.find((x) => x.Sid === `${stage[0]!.toUpperCase()}${stage.slice(1)}UseS3ObjectKeyThroughS3`)!;
    t.deepEqual(s.Action, ['kms:GenerateDataKey', 'kms:Decrypt'], stage);
    t.deepEqual(s.Resource, ['arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab']);
    t.deepEqual(s.Condition, { StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } });
  }
  const table = p.load.Statement.find((s) => s.Sid === 'LoadUseTableKeyThroughDynamoDB')!;
  t.true(table.Action.includes('kms:CreateGrant'));
  t.deepEqual(table.Resource, ['arn:aws:kms:eu-west-1:111122223333:key/*']);
  t.deepEqual(table.Condition, { StringEquals: { 'kms:ViaService': 'dynamodb.eu-west-1.amazonaws.com' }, 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/serenya' } });
  t.deepEqual(p.verify.Statement.find((s) => s.Sid === 'VerifyReadThroughTableKey')!.Action, ['kms:Decrypt', 'kms:DescribeKey']);
  t.deepEqual(p.catchup.Statement.find((s) => s.Sid === 'CatchupReadAndWriteThroughTableKey')!.Condition, table.Condition);
  // One identity: the stages' uses of the table key are one statement, granting each stage's actions.
  const all = p.all.Statement.filter((s) => s.Condition?.StringEquals?.['kms:ViaService'] === 'dynamodb.eu-west-1.amazonaws.com');
  t.deepEqual(all.map((s) => s.Sid), ['StagesUseTheTableKeyThroughDynamoDB']);
  t.deepEqual([...all[0]!.Action].sort(), [...new Set([...table.Action, 'kms:ReEncrypt*'])].sort());
  // With both keys, and cutover's fresh run, one identity still fits a managed policy.
  t.true(policySize(iamPolicies({ ...config, loadMode: 'both', s3KmsKeyId: '1234abcd-12ab-34cd-56ef-1234567890ab', tableKmsKeyId: 'alias/serenya' }).all) < MANAGED_POLICY_MAX_CHARS);
  t.false(iamPolicies(config).all.Statement.some((s) => s.Action.some((a) => a.startsWith('kms:'))), 'no key, no kms');
});

test('cutover\'s fresh run: <run>-cutover, --fresh-run, or any run without RUN', (t) => {
  const keys = (policy: PolicyDocument) => [...new Set(policy.Statement.flatMap((s) => s.Resource).filter((r) => r.startsWith('arn:aws:s3:::my-bucket/')).map((r) => r.split('/').slice(1, 3).join('/')))].sort();
  t.deepEqual(keys(stagePolicy(config, 'cutover')), ['serenya/2026-11-28', 'serenya/2026-11-28-cutover']);
  t.deepEqual(keys(stagePolicy({ ...config, freshRun: 'final-check' }, 'cutover')), ['serenya/2026-11-28', 'serenya/final-check']);
  t.deepEqual(keys(stagePolicy({ ...config, run: undefined }, 'cutover')), ['serenya/*']);
  t.deepEqual(keys(stagePolicy(config, 'catchup')), ['serenya/2026-11-28'], 'catchup writes no other run');
  t.throws(() => stagePolicy({ ...config, freshRun: '2026-11-28' }, 'cutover'), { message: /another run than RUN/ });
});

test('bad configuration is refused in one line', (t) => {
  t.throws(() => stagePolicy({ ...config, store: './out' }, 'extract'), { message: /local store needs no IAM policy/ });
  t.throws(() => stagePolicy({ ...config, store: 's3://my-bucket/a/../b' }, 'extract'), { message: /invalid storage key/ });
  t.throws(() => stagePolicy({ ...config, run: 'a/b' }, 'extract'), { message: /invalid run id/ });
  t.throws(() => stagePolicy({ ...config, table: 'x"; *' }, 'load'), { message: /invalid DynamoDB table name/ });
  t.throws(() => stagePolicy({ ...config, accountId: '12' }, 'load'), { message: /12 digits/ });
  t.throws(() => stagePolicy({ ...config, region: 'eu west' }, 'load'), { message: /invalid AWS region/ });
  t.throws(() => stagePolicy({ ...config, s3KmsKeyId: 'key id; *' }, 'load'), { message: /invalid KMS key id/ });
});

test('a STORE whose prefix holds an IAM wildcard or policy variable is refused, quoting it, for the policy and for every stage', (t) => {
  for (const store of ['s3://my-bucket/a*', 's3://my-bucket/a?b', 's3://my-bucket/home/${aws:username}', 's3://my-bucket/x/*/y']) {
    const wildcard = /[*?]|\$\{/.exec(store)![0];
    const refusal = { message: `invalid STORE ${JSON.stringify(store)}: its prefix holds ${JSON.stringify(wildcard)}, which IAM reads as ${wildcard === '${' ? 'a policy variable' : 'a wildcard'} (* and ? match any characters, \${…} is a policy variable), so its policy would grant more than this store; use a prefix without *, ? or \${` };
    t.throws(() => iamPolicies({ ...config, store }), refusal, store);
    // The stages open their store through lib/storage.ts: they refuse it too, before any write.
    t.throws(() => openStorage(store), refusal, store);
  }
});

// ---- The policy cannot fall behind the code -------------------------------
// Every file a stage's CLI reaches (static imports, worker entries) is read;
// each `new XCommand(` of an AWS SDK client, and each storage call
// (`run.put(` …) mapped to the S3 calls lib/storage.ts makes for it, must be
// allowed by that stage's policy.

const ENTRIES: Record<Stage, string> = {
  extract: 'extract/cli.ts', transform: 'transform/cli.ts', load: 'load/cli.ts', verify: 'verify/cli.ts',
  catchup: 'catchup/cli.ts', cutover: 'catchup/cutover-cli.ts',
};

/** A file's top-level pieces: declarations by name, and the rest (top-level code, always run). */
interface Piece { name?: string; text: string; isImport?: boolean }
const DECLARATION = /^(?:export\s+)?(?:default\s+)?(?:declare\s+)?(?:async\s+)?(?:function\*?|class|const|let|var|interface|type|enum)\s+(\w+)/;

function pieces(text: string): Piece[] {
  const out: Piece[] = [];
  for (const line of text.split('\n')) {
    const declared = DECLARATION.exec(line)?.[1];
    if (declared) out.push({ name: declared, text: line });
    else if (/^(import|export\s*\{)/.test(line)) out.push({ text: line, isImport: true });
    else if (/^[A-Za-z_$]/.test(line) && !/^(\/\/|\/\*)/.test(line)) out.push({ text: line });
    else if (out.length > 0) out[out.length - 1]!.text += `\n${line}`;
    else out.push({ text: line });
  }
  return out;
}

/**
 * The code of the repo a stage runs: from its CLI, every top-level piece of
 * every file that is used: imported by name from a used piece (`import { a }
 * from './x.ts'`), referenced by a used piece of its own file, or top-level
 * code; a worker entry (`new URL('./x.ts', import.meta.url)`) is used whole.
 * Per piece, not per file: a stage importing one function of a module is not
 * charged with the AWS calls of the module's other functions.
 */
function usedCode(entry: string): Map<string, string> {
  const files = new Map<string, { text: string; pieces: Piece[]; used: Set<Piece> }>();
  const queue: [string, string[] | 'all'][] = [[entry, 'all']];
  while (queue.length > 0) {
    const [file, names] = queue.shift()!;
    const seen = files.has(file);
    if (!seen) {
      const text = readFileSync(path.join(REPO, file), 'utf8');
      files.set(file, { text, pieces: pieces(text), used: new Set() });
    }
    const f = files.get(file)!;
    const before = f.used.size;
    for (const p of f.pieces) if (!p.isImport && (names === 'all' || !p.name || names.includes(p.name))) f.used.add(p);
    // Pieces referenced by used pieces of the same file.
    for (let grew = true; grew;) {
      grew = false;
      for (const p of f.pieces) {
        if (p.name && !f.used.has(p) && [...f.used].some((u) => new RegExp(`\\b${p.name}\\b`).test(u.text))) { f.used.add(p); grew = true; }
      }
    }
    if (seen && f.used.size === before) continue;
    const usedText = [...f.used].map((p) => p.text).join('\n');
    const resolve = (ref: string) => path.posix.normalize(path.posix.join(path.posix.dirname(file), ref));
    for (const [, list, ref] of f.text.matchAll(/^import\s+(?!type\b)\{([^}]*)\}\s*from\s*'(\.{1,2}\/[^']+\.ts)'/gm)) {
      const all = list!.split(',').map((n) => n.trim()).filter((n) => n && !n.startsWith('type '))
        .filter((n) => { const [name, local] = n.split(/\s+as\s+/); return new RegExp(`\\b${local ?? name}\\b`).test(usedText); })
        .map((n) => n.split(/\s+as\s+/)[0]!);
      if (all.length > 0) queue.push([resolve(ref!), all]);
    }
    for (const [, ref] of f.text.matchAll(/new URL\('(\.{1,2}\/[^']+\.(?:ts|mjs))',\s*import\.meta\.url\)/g)) {
      if (ref!.endsWith('.ts')) queue.push([resolve(ref!), 'all']);
    }
    for (const [, ref] of f.text.matchAll(/\bimport\(\s*'(\.{1,2}\/[^']+\.ts)'\s*\)/g)) queue.push([resolve(ref!), 'all']);
  }
  return new Map([...files].map(([file, f]) => [file, f.pieces.filter((p) => f.used.has(p)).map((p) => p.text).join('\n')]));
}

/** IAM actions of each S3 call (the S3 API names are not the IAM names). */
const S3_ACTIONS: Record<string, string[]> = {
  HeadBucket: ['s3:ListBucket'],
  ListObjectsV2: ['s3:ListBucket'],
  GetObject: ['s3:GetObject'],
  DeleteObject: ['s3:DeleteObject'],
  GetBucketLocation: ['s3:GetBucketLocation'],
  // @aws-sdk/lib-storage: PutObject, or CreateMultipartUpload/UploadPart/CompleteMultipartUpload (s3:PutObject), AbortMultipartUpload.
  Upload: ['s3:PutObject', 's3:AbortMultipartUpload'],
};

/** The S3 calls behind each Storage method (lib/storage.ts, S3Storage). */
const STORAGE_CALLS: Record<string, string[]> = {
  put: ['HeadBucket', 'Upload'], get: ['GetObject'], getText: ['GetObject'], list: ['ListObjectsV2'], delete: ['DeleteObject'], removeLeftovers: [],
};

/** What AWS requires besides the call itself (the import guide: the caller reads the source and writes the log). */
const ALSO_REQUIRED: Record<string, string[]> = {
  'dynamodb:ImportTable': ['s3:GetObject', 's3:ListBucket', 'logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:DescribeLogGroups', 'logs:DescribeLogStreams', 'logs:PutLogEvents'],
};

const PACKAGES: Record<string, string> = { '@aws-sdk/client-dynamodb': 'dynamodb', '@aws-sdk/client-cloudwatch-logs': 'logs', '@aws-sdk/client-s3': 's3' };

/** `new XCommand(` in `text`, with the service of the package X was imported from. */
function sdkCalls(file: string, text: string, imports = text): { call: string; service: string }[] {
  const from = new Map<string, string>();
  for (const [, names, pkg] of imports.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'(@aws-sdk\/[^']+)'/g)) {
    for (const name of names!.split(',').map((n) => n.trim().replace(/^type\s+/, '')).filter(Boolean)) from.set(name, pkg!);
  }
  const calls = [...text.matchAll(/new\s+(\w+)Command\s*\(/g)].map(([, name]) => {
    const pkg = from.get(`${name}Command`);
    if (!pkg || !PACKAGES[pkg]) throw new Error(`${file}: new ${name}Command( from ${pkg ?? 'an unknown package'}: add its service to PACKAGES`);
    return { call: name!, service: PACKAGES[pkg]! };
  });
  if (/new\s+Upload\s*\(/.test(text)) calls.push({ call: 'Upload', service: 's3' });
  return calls;
}

function iamActions(call: { call: string; service: string }): string[] {
  if (call.service !== 's3') return [`${call.service}:${call.call}`];
  const actions = S3_ACTIONS[call.call];
  if (!actions) throw new Error(`S3 call ${call.call} has no IAM mapping: add it to S3_ACTIONS and to the policy`);
  return actions;
}

/**
 * Every IAM action a stage's code calls for (SDK commands, storage calls, and
 * what AWS requires with them), and those of the stage CLIs it runs as child
 * processes with its own identity (cutover's `stage('extract/cli.ts', …)`).
 */
function actionsCalledBy(stage: Stage): Map<string, string> {
  return actionsOfEntry(ENTRIES[stage]);
}

function actionsOfEntry(entry: string): Map<string, string> {
  const needed = new Map<string, string>();
  for (const [file, text] of usedCode(entry)) {
    for (const [, cli] of text.matchAll(/\bstage\('(\w+\/cli\.ts)'/g)) {
      for (const [action, where] of actionsOfEntry(cli!)) needed.set(action, `${file} runs ${cli}: ${where}`);
    }
    if (file === 'lib/storage.ts') continue; // reached through the storage calls below
    for (const call of sdkCalls(file, text, readFileSync(path.join(REPO, file), 'utf8'))) {
      for (const action of iamActions(call)) {
        needed.set(action, `${file}: new ${call.call}Command(`);
        for (const also of ALSO_REQUIRED[action] ?? []) needed.set(also, `${file}: ${action} requires it`);
      }
    }
    for (const [, method] of text.matchAll(/\brun\.(put|get|getText|list|delete|removeLeftovers)\(/g)) {
      for (const call of STORAGE_CALLS[method!]!) for (const action of S3_ACTIONS[call]!) needed.set(action, `${file}: run.${method}(`);
    }
  }
  return needed;
}

test('lib/storage.ts makes only the S3 calls this test maps storage methods to', (t) => {
  const text = readFileSync(path.join(REPO, 'lib/storage.ts'), 'utf8');
  const calls = [...new Set(sdkCalls('lib/storage.ts', text).map((c) => c.call))].sort();
  t.deepEqual(calls, [...new Set(Object.values(STORAGE_CALLS).flat())].sort(),
    'a new S3 call in lib/storage.ts: map it in STORAGE_CALLS and S3_ACTIONS, and allow it in plan/iam-policy.ts');
});

test('every AWS call a stage makes is allowed by its policy', (t) => {
  const policies = iamPolicies({ ...config, loadMode: 'both' });
  for (const stage of STAGES) {
    const needed = actionsCalledBy(stage);
    t.true(needed.size > 0, stage);
    const allowed = new Set(policyActions(policies[stage]));
    const missing = [...needed].filter(([action]) => !allowed.has(action)).map(([action, where]) => `${action} (${where})`);
    t.deepEqual(missing, [], `${stage}: called but not allowed`);
    // And nothing is allowed that no code calls for (DescribeImport's companions aside).
    const unused = [...allowed].filter((a) => !needed.has(a) && !['logs:PutRetentionPolicy'].includes(a));
    t.deepEqual(unused, [], `${stage}: allowed but never called`);
  }
  // The scan found what the stages are known to call.
  t.true(actionsCalledBy('load').has('dynamodb:ImportTable'));
  t.true(actionsCalledBy('transform').has('s3:GetObject'));
  t.true(actionsCalledBy('transform').has('s3:DeleteObject'), 'transform deletes stale item files');
  t.true(actionsCalledBy('load').has('s3:DeleteObject'), 'load deletes its write check (and nothing else: its policy)');
  t.true(actionsCalledBy('verify').has('dynamodb:Query'));
  t.true(actionsCalledBy('catchup').has('dynamodb:BatchWriteItem'), 'catchup writes through lib/batch-write.ts');
  t.true(actionsCalledBy('catchup').has('dynamodb:Query'));
  t.true(actionsCalledBy('catchup').has('s3:DeleteObject'), 'catchup replaces a rerun batch\'s rejects');
  t.true(actionsCalledBy('cutover').has('dynamodb:Scan'), 'cutover runs verify/cli.ts with its identity');
  t.true(actionsCalledBy('cutover').has('dynamodb:BatchWriteItem'), 'cutover runs catchup\'s drain');
});

test('every s3:ListBucket, stages and orchestration, lists only the run\'s keys (an s3:prefix condition)', (t) => {
  const p = iamPolicies({ ...config, loadMode: 'both' });
  const lists = Object.values(p).flatMap((policy) => policy.Statement).filter((s) => s.Action.includes('s3:ListBucket'));
  t.true(lists.length >= 5);
  const runs = ['serenya/2026-11-28', 'serenya/2026-11-28/*'];
  for (const [name, policy] of Object.entries(p)) {
    // Cutover lists its fresh run too (and so does the identity of every stage).
    const prefixes = name === 'cutover' || name === 'all' ? [...runs, 'serenya/2026-11-28-cutover', 'serenya/2026-11-28-cutover/*'] : runs;
    for (const s of policy.Statement.filter((x) => x.Action.includes('s3:ListBucket'))) t.deepEqual(s.Condition, { StringLikeIfExists: { 's3:prefix': prefixes } }, `${name} ${s.Sid}`);
  }
  t.is(p.cutover.Statement.filter((s) => s.Action.includes('s3:ListBucket')).length, 1, 'one listing statement for both runs');
  const anyRun = stagePolicy({ ...config, run: undefined }, 'extract').Statement.find((s) => s.Action.includes('s3:ListBucket'))!;
  t.deepEqual(anyRun.Condition, { StringLikeIfExists: { 's3:prefix': ['serenya/*', 'serenya/*/*'] } });
  const roles = orchestrationPolicies(config);
  t.false(Object.values(roles).flatMap((policy) => policy.Statement).some((s) => s.Action.includes('s3:ListBucket') && !s.Condition));
});
