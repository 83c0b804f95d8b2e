import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../lib/errors.ts';
import type { TableEntry } from '../lib/manifest.ts';
import { genericMapper, loadMappers } from './registry.ts';

const entity = (table: string) => `export default { table: ${JSON.stringify(table)}, entityType: 'x', key: { pk: 'X#{id}', sk: 'ROW' } };\n`;

/** A model directory of one's own holding `files`, an ES module package unless `module: false`. */
async function modelDir(t: { teardown: (fn: () => Promise<void>) => void }, files: Record<string, string>, module = true): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-registry-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  if (module) await writeFile(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

test("a model of one's own that cannot load is a user's error naming the file, not an internal one", async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ 'a.ts': entity('a'), 'b.ts': "throw new Error('boom at import');\n" }, /b\.ts: cannot be imported: boom at import/],
    [{ 'a.ts': 'export default {\n' }, /a\.ts: cannot be imported: /],
    [{ 'a.ts': entity('a'), 'helper.ts': 'export const x = 1;\n' }, /helper\.ts does not default-export a mapper/],
    [{ 'a.ts': entity('a'), 'a2.ts': entity('a') }, /two mappers for table a in .*: a\.ts and a2\.ts/],
  ];
  for (const [files, message] of cases) {
    const dir = await modelDir(t, files);
    const err = await t.throwsAsync(loadMappers(dir));
    t.true(err instanceof UserError, `${err?.message}`);
    t.regex(err!.message, message);
    t.true(err!.message.includes(dir), 'the file is named by its full path');
  }
});

test('entity files outside an ES module package: the error says to add the package.json make scaffold writes', async (t) => {
  const dir = await modelDir(t, { 'a.ts': entity('a') }, false);
  let mappers;
  try {
    mappers = await loadMappers(dir);
  } catch (err) {
    t.true(err instanceof UserError, String(err));
    t.regex((err as Error).message, /a\.ts: cannot be imported: .*package\.json.*"type": "module"/s);
    return;
  }
  // Where Node itself tells the module syntax apart (Node 22.7+), it simply loads.
  t.is(mappers.get('a')?.file, 'a.ts');
});

test("a model of one's own: a helper its entities import from the model's folders is in their hashes; golden files and other entities are not", async (t) => {
  const dir = await modelDir(t, {
    'a.ts': "import { LABEL } from './lib/keys.ts';\nexport default { table: 'a', entityType: 'x', key: { pk: `${LABEL}#{id}`, sk: 'ROW' } };\n",
    'b.ts': entity('b'),
  });
  await mkdir(path.join(dir, 'lib'));
  await mkdir(path.join(dir, 'golden'));
  await writeFile(path.join(dir, 'lib/keys.ts'), "export const LABEL = 'A';\n");
  const hashes = async () => Object.fromEntries([...(await loadMappers(dir)).values()].map((m) => [m.mapper.table, m.hash]));
  const before = await hashes();
  await writeFile(path.join(dir, 'golden/a.json'), '{}\n');
  t.deepEqual(await hashes(), before, 'golden files are output, not code');
  await writeFile(path.join(dir, 'lib/keys.ts'), "export const LABEL = 'CHANGED';\n");
  const after = await hashes();
  t.not(after.a, before.a, 'the changed helper redoes the tables of the model');
});

test('--unmapped generic gives tables whose names differ only in case or punctuation keys of their own', (t) => {
  const entry = (name: string) => ({ name, schema: 'public', table: name, primary_key: ['id'], columns: [{ name: 'id', type: 'integer' }] }) as unknown as TableEntry;
  const names = ['users', 'Users', 'a-b', 'a_b', 'audit.events', 'audit_events'];
  const keys = names.map((name) => { const { key } = genericMapper(entry(name)).mapper; return `${key.pk} ${key.sk}`; });
  t.is(new Set(keys).size, names.length, keys.join(', '));
  t.is(keys[0], 'USERS#{pk0} USERS', 'an ordinary name keeps its label');
});
