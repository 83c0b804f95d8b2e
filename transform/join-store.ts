// Join indexes kept in the run (`transform/joins/<table>/<id>.idx`, and a
// `.json` beside it saying what it was built from), so the whole joined table
// is read once per run, not once per process. Every shard of a sharded
// transform, every map child of one unit and every rerun needs the index of
// each join its units make; built from the joined table's parts, each of them
// read all of that table: at a terabyte, with processing_jobs most of it, each
// of 8 shards read ~5× its own share. Now the first process that needs an
// index builds it and keeps it; the others copy it (about a tenth of the
// joined table's CSV for uuid → uuid), checked against its sha256.
// `transform joins` builds them before the shards start.
import { createReadStream, createWriteStream, mkdtempSync, openSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { errorMessage } from '../lib/errors.ts';
import { inputPart, type ExtractManifest, type TransformInput } from '../lib/manifest.ts';
import { Meter, sha256Hex } from '../lib/meter.ts';
import { tableSegment } from '../lib/run-layout.ts';
import type { Storage } from '../lib/storage.ts';
import { transformCodeVersion } from '../model/code-version.ts';
import { readJoinIndexFile, type JoinIndexFile } from './join-index.ts';

export const JOINS_PREFIX = 'transform/joins';

/** What a kept index was built from (its `.json`). */
export interface KeptJoin {
  table: string;
  match: string;
  take: string;
  /** What the index depends on: the joined parts read (sha256 of each) and the transform code. */
  fingerprint: string;
  entries: number;
  bytes: number;
  sha256: string;
}

/** One join's lookup: the joined table, its match column and its taken column. */
export interface JoinSpec { table: string; match: string; take: string }

/** Where a join's index is kept: one name per (table, match, take), so a rebuild replaces it. */
export function keptJoinKeys({ table, match, take }: JoinSpec): { index: string; about: string } {
  const base = `${JOINS_PREFIX}/${tableSegment(table)}/${sha256Hex(JSON.stringify([match, take])).slice(0, 16)}`;
  return { index: `${base}.idx`, about: `${base}.json` };
}

/** Changes when a joined part read, or the transform code (the index format with it), changes. */
export function joinFingerprint(extract: ExtractManifest, { table, match, take }: JoinSpec, input?: TransformInput): string {
  const entry = extract.tables.find((t) => t.name === table);
  const parts = (entry?.parts ?? []).map((p) => inputPart(p, input).sha256);
  return sha256Hex(JSON.stringify({ code: transformCodeVersion(), table, match, take, parts }));
}

/**
 * The kept index of `join` as a local file for openJoinIndex, or undefined when
 * none is kept for `fingerprint` or its copy does not match what its `.json`
 * says (then the caller builds it).
 */
export async function fetchJoin(run: Storage, join: JoinSpec, fingerprint: string, log: (message: string) => void): Promise<JoinIndexFile | undefined> {
  const keys = keptJoinKeys(join);
  const about = await readKept(run, join, fingerprint, log);
  if (!about) return undefined;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pg2ddb-join-'));
  const file = path.join(dir, 'index');
  try {
    const meter = new Meter();
    await pipeline(await run.get(keys.index), meter, createWriteStream(file));
    if (meter.bytes !== about.bytes || meter.sha256 !== about.sha256) {
      throw new Error(`${meter.bytes} bytes of sha256 ${meter.sha256.slice(0, 12)}…, where ${keys.about} says ${about.bytes} of ${about.sha256.slice(0, 12)}…`);
    }
    const index = readJoinIndexFile(file);
    if (index.entries !== about.entries) throw new Error(`${index.entries} entries where ${keys.about} says ${about.entries}`);
    return index;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    // A copy replaced while read (another run's rebuild) or damaged: this process builds its own.
    log(`the kept join index ${run.uri}/${keys.index} cannot be used (${errorMessage(err)}): building it again`);
    return undefined;
  }
}

/**
 * The record of `join`'s index kept for `fingerprint`, when its file is there
 * at the size the record says; nothing is copied. `transform joins` so learns
 * there is nothing to build without reading an index that can be a tenth of
 * the joined table; every process that uses the index still checks its copy's
 * sha256 (fetchJoin), and builds its own if that fails.
 */
export async function keptJoinRecord(run: Storage, join: JoinSpec, fingerprint: string, log: (message: string) => void): Promise<KeptJoin | undefined> {
  const about = await readKept(run, join, fingerprint, log);
  if (!about) return undefined;
  const { index } = keptJoinKeys(join);
  const stored = (await run.list(index.slice(0, index.lastIndexOf('/')))).find((o) => o.key === index);
  if (stored?.bytes === about.bytes) return about;
  log(`the kept join index ${run.uri}/${index} is ${stored ? `${stored.bytes} bytes where its .json says ${about.bytes}` : 'missing'}: building it again`);
  return undefined;
}

/** The `.json` of `join`'s kept index, when it is one and was kept for `fingerprint`. */
async function readKept(run: Storage, join: JoinSpec, fingerprint: string, log: (message: string) => void): Promise<KeptJoin | undefined> {
  const keys = keptJoinKeys(join);
  const text = await run.getText(keys.about);
  if (text === undefined) return undefined;
  let about: KeptJoin;
  try {
    about = JSON.parse(text) as KeptJoin;
  } catch {
    log(`${run.uri}/${keys.about} is not valid JSON: building the join index again`);
    return undefined;
  }
  // Valid JSON of another shape (null, a number, an array) is no record of a kept index either.
  if (typeof about !== 'object' || about === null) return undefined;
  if (about.fingerprint !== fingerprint) {
    // Said, so that a kept index no process can use (kept by another code version or --input) is not rebuilt unnoticed by every shard.
    log(`the join index kept in ${run.uri}/${keys.about} was built from other inputs or another transform code version: building it again`);
    return undefined;
  }
  return about;
}

/** Keeps a built index in the run: the file, then its `.json` (a reader trusts the file only through it). */
export async function keepJoin(run: Storage, join: JoinSpec, fingerprint: string, file: JoinIndexFile): Promise<void> {
  const keys = keptJoinKeys(join);
  // Opened now, not when the stream first reads: destroyed unread, it has nothing left to open (and fail on).
  const body = createReadStream(file.path, { fd: openSync(file.path, 'r') });
  let stored;
  try {
    stored = await run.put(keys.index, body);
  } finally {
    // A put that failed before reading it (S3's bucket check, say) would leave its descriptor open,
    // and its open erroring uncaught once the caller deletes the file.
    body.destroy();
  }
  const about: KeptJoin = { ...join, fingerprint, entries: file.entries, bytes: stored.bytes, sha256: stored.sha256 };
  await run.put(keys.about, `${JSON.stringify(about, null, 2)}\n`);
}
