import test from 'ava';
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rename, rm, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../lib/runtime.ts';
import type { BuildInfo } from '../model/code-version.ts';

/** A copy of what make builds from (node_modules linked), to edit without touching the repository. */
async function copyOfPackage(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-build-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  for (const entry of ['Makefile', 'package.json', 'lib', 'model', 'extract', 'transform', 'load', 'verify', 'plan', 'catchup', 'scripts/build.ts', 'scripts/has-shards.ts']) {
    await cp(path.join(PACKAGE_ROOT, entry), path.join(root, entry), { recursive: true, preserveTimestamps: true });
  }
  await symlink(path.join(PACKAGE_ROOT, 'node_modules'), path.join(root, 'node_modules'));
  return root;
}

const make = (root: string, ...args: string[]) => spawnSync('make', ['-s', '-o', 'node_modules/.installed', ...args], { cwd: root, encoding: 'utf8' });
const upToDate = (root: string) => make(root, '-q', 'dist/build.json').status === 0;
const builtMappers = async (root: string) => Object.keys((JSON.parse(await readFile(path.join(root, 'dist/build.json'), 'utf8')) as BuildInfo).mappers);

test('make builds dist/ again when a source is removed or renamed, and the build lists only the mappers it made', async (t) => {
  const root = await copyOfPackage(t);
  t.is(make(root, 'dist/build.json').status, 0);
  t.true(upToDate(root));
  t.true((await builtMappers(root)).includes('chat_options.ts'));

  // A removed mapper: make builds again, and build.json no longer lists it, though its file stays in dist/ a minute.
  await rm(path.join(root, 'model/entities/chat_options.ts'));
  t.false(upToDate(root), 'a removed file');
  t.is(make(root, 'dist/build.json').status, 0);
  t.true(upToDate(root));
  t.false((await builtMappers(root)).includes('chat_options.ts'));
  t.true(existsSync(path.join(root, 'dist/model/entities/chat_options.js')), 'kept for a run still on the last build');

  // mv keeps a file's time: only its folder's changes.
  await rename(path.join(root, 'lib/meter.ts'), path.join(root, 'lib/meter-renamed.ts'));
  t.false(upToDate(root), 'a renamed file');
});
