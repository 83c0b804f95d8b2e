import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { workerBundle } from './worker-bundle.ts';

// The bundle lives in .local/cache/transform-worker/<hash>/: a module that reads
// a file relative to itself at import (lib/config.ts once read ../package.json)
// crashed every multi-unit transform with ENOENT before any task ran.
test('the worker bundle loads in a worker thread and stays up until terminated', async (t) => {
  const worker = new Worker(workerBundle().entry);
  const failure = new Promise<Error | null>((resolve) => {
    worker.once('error', resolve);
    worker.once('online', () => setTimeout(() => resolve(null), 1500));
  });
  const err = await failure;
  await worker.terminate();
  t.is(err?.message ?? null, null);
});

// A model of one's own with Users.ts and users.ts (tables "Users" and "users"): esbuild wrote one
// mappers/users.js for both entry names, and the workers failed "Cannot find module …/mappers/Users.js".
test("each entity file of a model of one's own gets its own module in the bundle, whatever its name", async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-bundle-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  const tables = ['Users', 'users', 'Sales Dept.Order Lines', 'x%2Etest', '日本語'];
  for (const table of tables) {
    await writeFile(path.join(dir, `${table}.ts`), `export default { table: ${JSON.stringify(table)}, entityType: 'x', key: { pk: 'X#{id}', sk: 'ROW' } };\n`);
  }
  const { mappers } = workerBundle(dir);
  t.is(mappers.size, tables.length);
  for (const table of tables) {
    const url = mappers.get(`${table}.ts`);
    t.truthy(url, table);
    const loaded = (await import(url!) as { default: { table: string } }).default;
    t.is(loaded.table, table);
  }
});
