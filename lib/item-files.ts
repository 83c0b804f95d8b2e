// Reading a transform run's item files: `<run>/items/<table>/part-NNNNN.json.gz` (or `.json.zst`, `.json`),
// one `{"Item":{…}}` per line. Every byte is hashed on the way and checked
// against the transform manifest, so a file changed after transform fails loudly.
import { decompress } from './compression.ts';
import { UserError, errorMessage } from './errors.ts';
import { textLines } from './lines.ts';
import { requireCurrentTransform } from './freshness.ts';
import { Meter, sha256Hex } from './meter.ts';
import { runPool } from './pool.ts';
import type { Storage } from './storage.ts';
import { readTransformManifest, type ItemPart, type TransformManifest, type TransformTable } from './transform-manifest.ts';
import type { ItemJson } from '../model/attribute-json.ts';
import { PRIMARY_KEY } from '../model/table.ts';
import { TRANSFORM_MANIFEST_KEY } from './run-layout.ts';

export interface FileItem {
  item: ItemJson;
  /** Where the item came from: table, part file and 1-based line (messages name items by position, never by value). */
  table: string;
  part: string;
  line: number;
  /** The line's UTF-8 bytes: about what the item weighs on the wire. */
  bytes: number;
}

/**
 * Streams the lines of one part (1-based numbers), then checks the stored
 * bytes' sha256 and the line count against the manifest. Readers that need
 * only some lines (plan's sampling) parse just those.
 */
export async function* readPartLines(run: Storage, part: ItemPart): AsyncGenerator<{ text: string; line: number }> {
  const stored = new Meter();
  const source = await run.get(part.key);
  // pipe() does not pass an error on: a read that fails (one broken past resuming) would
  // be an unhandled 'error' that crashes the process, and leave the lines waiting.
  source.on('error', (err) => stored.destroy(err));
  const lines = textLines(decompress(source.pipe(stored), part.key));
  let line = 0;
  let complete = false;
  try {
    for await (const text of lines) yield { text, line: ++line };
    complete = true;
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${run.uri}/${part.key}: ${errorMessage(err)}`);
  } finally {
    // A reader that stops early (an error of its own) must not leave the object streaming.
    if (!complete) source.destroy();
  }
  if (stored.sha256 !== part.sha256) {
    throw new UserError(`${run.uri}/${part.key} does not match the transform manifest's sha256: the file changed after transform`);
  }
  if (line !== part.items) throw new UserError(`${run.uri}/${part.key} holds ${line} items where the transform manifest says ${part.items}`);
}

/** One line of an item file as its item, or a one-line error naming file and line. */
export function parseItemLine(run: Storage, part: ItemPart, text: string, line: number): ItemJson {
  let parsed: { Item?: ItemJson };
  try {
    parsed = JSON.parse(text) as { Item?: ItemJson };
  } catch {
    throw new UserError(`${run.uri}/${part.key} line ${line} is not JSON`);
  }
  if (!parsed.Item) throw new UserError(`${run.uri}/${part.key} line ${line} is not {"Item":{…}}`);
  return parsed.Item;
}

/** Streams the items of one part, checked as readPartLines checks them. */
export async function* readPartItems(run: Storage, table: string, part: ItemPart): AsyncGenerator<FileItem> {
  for await (const { text, line } of readPartLines(run, part)) {
    yield { item: parseItemLine(run, part, text, line), table, part: part.key, line, bytes: Buffer.byteLength(text) };
  }
}

/**
 * Reads every item file of `tables` through (sha256, gzip, JSON lines, count)
 * before the load writes anything: a tampered, truncated or missing file is
 * refused by name up front, not after half the run is in the table.
 */
export async function checkItemFiles(run: Storage, tables: TransformTable[], concurrency: number): Promise<void> {
  const parts = tables.flatMap((t) => t.parts.map((part) => ({ table: t.name, part })));
  await runPool(parts, concurrency, async ({ table, part }) => {
    for await (const _item of readPartItems(run, table, part)) { /* read through: readPartItems checks as it ends */ }
  });
}

/** `PK\0SK`: the identity of an item in the table. */
export function itemKey(item: ItemJson | Record<string, { S?: string }>): string {
  const pk = (item[PRIMARY_KEY.partition] as { S?: string } | undefined)?.S;
  const sk = (item[PRIMARY_KEY.sort] as { S?: string } | undefined)?.S;
  return `${pk}\0${sk}`;
}

/** A short hash naming an item's key in reports and logs: keys hold ids and hashes of personal data, never printed as such. */
export function keyHash(key: string): string {
  return sha256Hex(key).slice(0, 16);
}

export interface LoadableRun {
  manifest: TransformManifest;
  /** sha256 of the manifest text: what the ImportTable ClientToken is derived from. */
  manifestSha256: string;
  /** The tables to load (all, or those asked for), each with items. */
  tables: TransformTable[];
}

/**
 * The run's transform manifest, checked ready for load and current with the
 * extract (lib/freshness.ts), and the tables selected. `stage` names the
 * reader in a refusal.
 */
export async function readLoadableRun(run: Storage, runId: string, only: string[] | undefined, stage = 'load'): Promise<LoadableRun> {
  const text = await run.getText(TRANSFORM_MANIFEST_KEY);
  const manifest = await readTransformManifest(run);
  if (!manifest || text === undefined) {
    throw new UserError(`no transform manifest at ${run.uri}/${TRANSFORM_MANIFEST_KEY}: run the transform stage for run ${runId} first`);
  }
  if (!manifest.ready_for_load) {
    throw new UserError(`run ${runId} is not ready for load: ${manifest.problems.join('; ') || 'the transform manifest says so'}`);
  }
  const unknown = (only ?? []).filter((t) => !manifest.tables.some((m) => m.name === t));
  if (unknown.length > 0) {
    throw new UserError(`no such table in the transform manifest: ${unknown.join(', ')}; the run has: ${manifest.tables.map((t) => t.name).join(', ')}`);
  }
  await requireCurrentTransform(run, runId, manifest, stage, only);
  const tables = manifest.tables.filter((t) => t.mapping !== 'skip' && (!only || only.length === 0 || only.includes(t.name)));
  return { manifest, manifestSha256: sha256Hex(text), tables };
}
