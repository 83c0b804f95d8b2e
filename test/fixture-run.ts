// For tests: a real transform run of the committed fixture dumps in a temp
// directory (scripts/golden.ts writes the extract run, the transform runs on
// it), so plan is tested on what transform actually writes, with no stack.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TransformManifest } from '../lib/transform-manifest.ts';
import { writeDumpRun } from '../scripts/golden.ts';
import { runTransform } from '../transform/runner.ts';

export interface FixtureRun { store: string; run: string; manifest: TransformManifest; remove: () => Promise<void> }

export async function fixtureRun(run = 'fixture'): Promise<FixtureRun> {
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-plan-'));
  await writeDumpRun(store, run);
  const manifest = await runTransform({ store, run, concurrency: 2, gzipLevel: 1, unmapped: 'fail', dropExpired: false, log: () => {} });
  return { store, run, manifest, remove: () => rm(store, { recursive: true, force: true }) };
}
