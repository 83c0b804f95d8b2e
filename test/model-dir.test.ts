// A model of one's own: make scaffold MODEL=dir writes an entity file per
// source table into a directory outside the toolkit, and make transform
// MODEL=dir maps the run with those files (edited), not the shipped ones.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { openStorage } from '../lib/storage.ts';
import { readTransformManifest } from '../lib/transform-manifest.ts';
import { writeDumpRun } from '../scripts/golden.ts';
import { REPO, type CliResult } from './cli.ts';
import { freshDatabase } from './stack.ts';

/** Runs `command` with its stdout and stderr collected, to its end. */
function spawnCollect(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function make(args: string[], env: Record<string, string>): Promise<CliResult> {
  return spawnCollect('make', ['-s', '--no-print-directory', '-o', 'node_modules/.installed', ...args], {
    cwd: REPO, env: { ...process.env, TABLE: '', RUN: '', STORE: '', CONCURRENCY: '', MODEL: '', ...env },
  });
}

test('make scaffold MODEL=dir writes an entity per table outside the repo, and MODEL=dir make transform maps with them as edited', async (t) => {
  const databaseUrl = await freshDatabase(t);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-model-'));
  const scaffolded = await make(['scaffold'], { DATABASE_URL: databaseUrl, MODEL: dir });
  t.is(scaffolded.code, 0, scaffolded.stderr);
  const files = (await readdir(dir)).sort();
  t.is(files.filter((f) => f.endsWith('.ts')).length, 16, files.join(' '));
  t.true(files.includes('package.json'));
  const users = await readFile(path.join(dir, 'users.ts'), 'utf8');
  t.regex(users, /key: \{ pk: "USERS#\{id\}", sk: 'ROW' \}/);
  t.regex(users, /\/\/ {3}id +uuid {2}\(primary key\)/, 'every column is listed with its type');
  t.regex(users, /\/\/ {3}email +character varying\(255\)/);
  // The user's edit: users get a sort key of their own.
  await writeFile(path.join(dir, 'users.ts'), users.replace("sk: 'ROW'", "sk: 'PROFILE'"));
  const again = await make(['scaffold'], { DATABASE_URL: databaseUrl, MODEL: dir });
  t.is(again.code, 0, again.stderr);
  t.regex(await readFile(path.join(dir, 'users.ts'), 'utf8'), /sk: 'PROFILE'/, 'a second scaffold keeps edited files');

  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-model-run-'));
  await writeDumpRun(store, 'r');
  const transformed = await make(['transform', 'ARGS=--quiet'], { STORE: store, RUN: 'r', CONCURRENCY: '2', MODEL: dir });
  t.is(transformed.code, 0, transformed.stderr);
  const manifest = (await readTransformManifest(openStorage(store).sub('r')))!;
  t.is(manifest.tables.length, 16);
  for (const table of manifest.tables) {
    t.like(table, { mapping: 'mapper', entity_type: table.name, rejected: 0 }, table.name);
    t.is(table.items_out, table.rows_in, table.name);
  }
  const usersTable = manifest.tables.find((x) => x.name === 'users')!;
  const lines = gunzipSync(await readFile(path.join(store, 'r', usersTable.parts[0]!.key))).toString('utf8').split('\n').filter(Boolean);
  t.is(lines.length, usersTable.items_out);
  for (const line of lines) t.like(JSON.parse(line), { Item: { SK: { S: 'PROFILE' }, entity_type: { S: 'users' } } });
  t.true(lines.every((line) => (JSON.parse(line) as { Item: { PK: { S: string } } }).Item.PK.S.startsWith('USERS#')));

  const missing = await make(['transform', 'ARGS=--quiet'], { STORE: store, RUN: 'r', MODEL: path.join(dir, 'nope') });
  t.not(missing.code, 0, missing.stderr);
  t.regex(missing.stderr, /--model .*nope: no such directory/);
});

// bin/pg2ddb runs dist/ with no TypeScript loader: on Node 20, `pg2ddb transform --model dir` failed
// 'Unknown file extension ".ts"' for the first entity file, though make transform MODEL=dir worked.
test('bin/pg2ddb transform --model dir maps with a model of one\'s own, as make does', async (t) => {
  const built = await make(['dist/build.json'], {});
  t.is(built.code, 0, built.stderr);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-model-bin-'));
  await writeFile(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  const { ENTITIES_DIR } = await import('../model/registry.ts');
  for (const file of await readdir(ENTITIES_DIR)) {
    if (file.endsWith('.ts')) await writeFile(path.join(dir, file), (await readFile(path.join(ENTITIES_DIR, file), 'utf8')).replace(/from '\.\.\/computed\.ts'/g, `from ${JSON.stringify(path.join(REPO, 'model/computed.ts'))}`).replace(/from '\.\.\/entity\.ts'/g, `from ${JSON.stringify(path.join(REPO, 'model/entity.ts'))}`));
  }
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-model-bin-run-'));
  await writeDumpRun(store, 'r');
  const ran = await spawnCollect(path.join(REPO, 'bin/pg2ddb'), ['transform', '--store', store, '--run', 'r', '--quiet', '--model', dir], {
    cwd: os.tmpdir(), env: { ...process.env, MODEL: '', TABLE: '', CONCURRENCY: '2' },
  });
  t.is(ran.code, 0, ran.stderr);
  t.is((await readTransformManifest(openStorage(store).sub('r')))!.tables.length, 16);
});
