// Issue 5, faults 5: input tampered between stages. A truncated gzip part, a
// file whose sha256 no longer matches its manifest, a manifest copied from
// another run and a missing part are each refused by the next stage (transform
// for extract files, load for item files) with the exact file named.
import test from 'ava';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { runExtract } from '../extract/extract.ts';
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { runTransform } from '../transform/runner.ts';
import { runCli } from './cli.ts';
import { exitOutcome, recordFault } from './fault-table.ts';
import { freshDatabase, randomName, stackEnv } from './stack.ts';

const quiet = () => {};
const tempDir = () => mkdtemp(path.join(os.tmpdir(), 'pg2ddb-tamper-'));

interface Tampering {
  name: string;
  /** Changes the run at `dir` (a copy of a good run named `run`); returns the run id to process. */
  apply(dir: string, file: string): Promise<string>;
  /** What the error must say about the file. */
  says: (file: string, run: string) => RegExp;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function tamperings(t: { deepEqual(a: unknown, b: unknown): void }, manifestKey: string): Tampering[] {
  return [
    {
      name: 'a truncated gzip part',
      apply: async (dir, file) => { const bytes = await readFile(path.join(dir, 'r', file)); await writeFile(path.join(dir, 'r', file), bytes.subarray(0, bytes.length >> 1)); return 'r'; },
      says: (file) => new RegExp(`${esc(file)}\\b.*(unexpected end of file|bytes where the \\w+ manifest says)`),
    },
    {
      // Same size, same rows: only the gzip header's OS byte differs, so only the sha256 can tell.
      name: 'a part whose sha256 no longer matches (same size and content)',
      apply: async (dir, file) => {
        const p = path.join(dir, 'r', file);
        const bytes = await readFile(p);
        bytes[9] = bytes[9] === 0xff ? 0x03 : 0xff;
        t.deepEqual(gunzipSync(bytes), gunzipSync(await readFile(p)));
        await writeFile(p, bytes);
        return 'r';
      },
      says: (file) => new RegExp(`${esc(file)}\\b.* does not match the \\w+ manifest's sha256`),
    },
    {
      name: 'a manifest from another run',
      // The run copied under another name: its manifest still says run "r".
      apply: async (dir) => { await cp(path.join(dir, 'r'), path.join(dir, 'other'), { recursive: true }); return 'other'; },
      says: () => new RegExp(`other/${esc(manifestKey)} belongs to run "r", not to run "other"`),
    },
    {
      name: 'a missing part',
      apply: async (dir, file) => { await rm(path.join(dir, 'r', file)); return 'r'; },
      says: (file) => new RegExp(`${esc(file)}\\b.*no such file or directory`),
    },
  ];
}

/** Every file under `dir` (relative). */
async function listing(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

test('transform refuses each tampered extract, naming the file, and publishes no manifest and nothing of that table', async (t) => {
  t.timeout(60_000);
  const url = await freshDatabase(t);
  const good = await tempDir();
  await runExtract({ databaseUrl: url, store: good, run: 'r', concurrency: 4, schemas: ['public'], gzipLevel: 1, log: quiet });
  const file = 'extract/users/part-00000.csv.gz';
  await Promise.all(tamperings(t, 'extract/manifest.json').map(async (tampering) => {
    const dir = await tempDir();
    await cp(good, dir, { recursive: true });
    const run = await tampering.apply(dir, file);
    const before = await listing(dir);
    const result = await runCli('transform/cli.ts', ['--quiet', '--concurrency', '1'], { STORE: dir, RUN: run });
    t.is(result.code, 1, `${tampering.name}: ${result.stderr}`);
    t.is(result.stderr.trim().split('\n').length, 1, `${tampering.name}: one line`);
    t.regex(result.stderr, /^transform: error: /, tampering.name);
    t.regex(result.stderr, tampering.says(`${dir}/r/${file}`, run), tampering.name);
    const written = (await listing(dir)).filter((f) => !before.includes(f));
    t.false(written.includes(`${run}/transform/manifest.json`), `${tampering.name}: no manifest`);
    t.deepEqual(written.filter((f) => f.startsWith(`${run}/items/users/`) || f.startsWith(`${run}/transform/units/users/`)), [], `${tampering.name}: nothing of users`);
    t.deepEqual(written, [], `${tampering.name}: refused before any unit ran, nothing written`);
    recordFault(t, { fault: `tampered extract: ${tampering.name}`, stage: 'transform', outcome: exitOutcome(result, { [dir]: '<store>' }) });
  }));
});

test('load refuses each tampered transform run, naming the file, before creating the table or writing an item', async (t) => {
  t.timeout(60_000);
  const env = stackEnv();
  const url = await freshDatabase(t);
  const good = await tempDir();
  await runExtract({ databaseUrl: url, store: good, run: 'r', concurrency: 4, schemas: ['public'], gzipLevel: 1, log: quiet });
  await runTransform({ store: good, run: 'r', concurrency: 2, gzipLevel: 1, unmapped: 'fail', dropExpired: false, log: quiet });
  const file = 'items/users/part-00000.json.gz';
  const ddb = dynamoClient(env);
  await Promise.all(tamperings(t, 'transform/manifest.json').map(async (tampering) => {
    const dir = await tempDir();
    await cp(good, dir, { recursive: true });
    const run = await tampering.apply(dir, file);
    const before = await listing(dir);
    const tableName = randomName('tamper_');
    const result = await runCli('load/cli.ts', ['--quiet', '--no-ttl', '--no-deletion-protection'], { ...env, STORE: dir, RUN: run, MODE: 'batch', DDB_TABLE: tableName });
    t.is(result.code, 1, `${tampering.name}: ${result.stderr}`);
    const [mode, ...error] = result.stderr.trim().split('\n');
    t.is(mode, 'load: mode batch (MODE=batch)', tampering.name);
    t.is(error.length, 1, `${tampering.name}: one error line`);
    t.regex(error[0]!, /^load: error: /, tampering.name);
    t.regex(result.stderr, tampering.says(`${dir}/r/${file}`, run), tampering.name);
    t.deepEqual((await listing(dir)).filter((f) => !before.includes(f)), [], `${tampering.name}: nothing written, not even a report`);
    const table = await ddb.send(new DescribeTableCommand({ TableName: tableName })).catch((err: { name: string }) => err.name);
    t.is(table, 'ResourceNotFoundException', `${tampering.name}: no table created`);
    recordFault(t, { fault: `tampered items: ${tampering.name}`, stage: 'load', outcome: exitOutcome(result, { [dir]: '<store>' }) });
  }));
});
