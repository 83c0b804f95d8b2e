// `transform/duplicates.jsonl`: each item whose (PK, SK) an earlier item of the
// run already has, against the first one. The units' keys files are merged
// (duplicate-keys.ts) from ranged reads, so the merge holds no connection or
// file per unit; then each item file that holds a duplicate is read once, for
// the keys on all of its duplicates' lines (and their firsts': a hash shared by
// two different keys is no duplicate).
import { Readable } from 'node:stream';
import { decompress } from '../lib/compression.ts';
import { UserError, errorMessage } from '../lib/errors.ts';
import { textLines } from '../lib/lines.ts';
import { DUPLICATES_KEY, UNIT_RECORDS_PREFIX } from '../lib/run-layout.ts';
import type { Storage } from '../lib/storage.ts';
import { KEY_RECORD_BYTES, findDuplicates, rangedChunks } from './duplicate-keys.ts';
import type { UnitRecord } from './units.ts';

/** Ranged reads in flight at once: well under the S3 client's 50 sockets, which the item files' reads share. */
const READS_IN_FLIGHT = 16;
/** Item files read at once for the duplicates' keys (each holds a connection and, for zstd, a decompressor process). */
const ITEM_FILES_IN_FLIGHT = 8;
/** The merge's memory for chunks: two per unit (the one merged and the next, read meanwhile). */
const MERGE_BUFFER_BYTES = 64 * 1024 * 1024;

/** Chunk size for `units` keys files: the buffer shared out, between 256 and ~44,000 records. */
export function keyChunkBytes(units: number): number {
  const records = Math.floor(MERGE_BUFFER_BYTES / 2 / Math.max(units, 1) / KEY_RECORD_BYTES);
  return Math.min(Math.max(records, 256), 43_690) * KEY_RECORD_BYTES;
}

/** Writes `transform/duplicates.jsonl` for the units `records` (in run order) and returns how many duplicates it lists. */
export async function reportDuplicates(run: Storage, records: UnitRecord[]): Promise<number> {
  const sizes = new Map((await run.list(UNIT_RECORDS_PREFIX)).map((o) => [o.key, o.bytes]));
  const chunkBytes = keyChunkBytes(records.length);
  const limit = limiter(READS_IN_FLIGHT);
  const names = records.map((r) => `${run.uri}/${r.keys_key}`);
  const sources = records.map((r, i) => {
    const size = sizes.get(r.keys_key);
    if (size === undefined) throw new UserError(`cannot read ${names[i]}: no such object (rerun the transform to redo its unit)`);
    return rangedChunks((start, end) => limit(() => run.getRange(r.keys_key, start, end)), size, chunkBytes, names[i]!);
  });
  // Six numbers per pair of equal hashes (the first's source, row and line; the other's), not an object each:
  // a mapper that gives every item one key makes a duplicate of nearly every item.
  const equalHashes: number[] = [];
  try {
    for await (const d of findDuplicates(sources, names)) {
      equalHashes.push(d.first.source, d.first.row, d.first.line, d.duplicate.source, d.duplicate.row, d.duplicate.line);
    }
  } catch (err) {
    throw err instanceof UserError ? err : new UserError(errorMessage(err));
  }
  const locations: number[] = [];
  for (let i = 0; i < equalHashes.length; i += 6) locations.push(equalHashes[i]!, equalHashes[i + 2]!, equalHashes[i + 3]!, equalHashes[i + 5]!);
  const keys = await keysOnLines(run, records, locations);
  // Five numbers per duplicate (its first's source and row; its source, row and line).
  const found = sameKeys(equalHashes, keys);
  async function* lines(): AsyncGenerator<Buffer> {
    let batch = '';
    for (let i = 0; i < found.length; i += 5) {
      const first = { table: records[found[i]!]!.table, row: found[i + 1]! };
      const duplicate = { table: records[found[i + 2]!]!.table, row: found[i + 3]! };
      batch += `${JSON.stringify({ ...keys.get(found[i + 2]!)!.get(found[i + 4]!)!, first, duplicate })}\n`;
      if (batch.length >= 64 * 1024) {
        yield Buffer.from(batch);
        batch = '';
      }
    }
    if (batch) yield Buffer.from(batch);
  }
  await run.put(DUPLICATES_KEY, found.length === 0 ? '' : Readable.from(lines()));
  return found.length / 5;
}

/**
 * The pairs of `equalHashes` whose keys are the same, each against the first
 * item of its key. The keys' hash (key-hash.ts) is not collision resistant:
 * keys a user controls can be made to share one (two 32-byte SKs), and a
 * false duplicate fails the run. So the items of one hash are told apart by
 * their keys' UTF-8 bytes, the bytes the hash (and DynamoDB) takes.
 */
function sameKeys(equalHashes: number[], keys: Map<number, Map<number, { PK: string; SK: string }>>): number[] {
  const found: number[] = [];
  for (let i = 0; i < equalHashes.length;) {
    // One hash's items: findDuplicates gives each after the first against that first, in (source, row) order.
    const [source, row, line] = [equalHashes[i]!, equalHashes[i + 1]!, equalHashes[i + 2]!];
    const firstOf = new Map<string, [number, number]>();
    const keyOf = (s: number, l: number) => {
      const { PK, SK } = keys.get(s)!.get(l)!;
      return Buffer.from(`${PK}\0${SK}`, 'utf8').toString('latin1');
    };
    firstOf.set(keyOf(source, line), [source, row]);
    for (; i < equalHashes.length && equalHashes[i] === source && equalHashes[i + 1] === row && equalHashes[i + 2] === line; i += 6) {
      const [s, r, l] = [equalHashes[i + 3]!, equalHashes[i + 4]!, equalHashes[i + 5]!];
      const key = keyOf(s, l);
      const first = firstOf.get(key);
      if (first) found.push(first[0], first[1], s, r, l);
      else firstOf.set(key, [s, r]);
    }
  }
  return found;
}

/**
 * PK and SK of the items on `locations`' lines (source, line pairs), by unit and line: each item
 * file read once, up to its last such line (one read per duplicate, from the
 * file's start, took time quadratic in the duplicates and left each read's
 * stream, and its connection, open), ITEM_FILES_IN_FLIGHT files at a time
 * (one after another, a run with duplicates in many units waited on each
 * file's first byte, and each zstd file's decompressor starting, in turn).
 */
async function keysOnLines(run: Storage, records: UnitRecord[], locations: number[]): Promise<Map<number, Map<number, { PK: string; SK: string }>>> {
  const wanted = new Map<number, Set<number>>();
  for (let i = 0; i < locations.length; i += 2) {
    const source = locations[i]!;
    if (!wanted.has(source)) wanted.set(source, new Set());
    wanted.get(source)!.add(locations[i + 1]!);
  }
  const keys = new Map<number, Map<number, { PK: string; SK: string }>>();
  const limit = limiter(ITEM_FILES_IN_FLIGHT);
  // A file that fails stops the rest: no file read starts after it, and the reads in flight
  // stop at their next line and close their streams (and zstd processes) before the failure
  // is thrown; else the stage, its error said, kept reading every file left before it exited.
  let failure: { err: unknown } | undefined;
  const stopped = () => failure !== undefined;
  await Promise.all([...wanted].map(([source, lines]) => limit(async () => {
    if (stopped()) return;
    try {
      const found = await keysOnFileLines(run, records[source]!.part.key, lines, stopped);
      if (found) keys.set(source, found);
    } catch (err) {
      failure ??= { err };
    }
  })));
  if (failure) throw failure.err;
  return keys;
}

/** PK and SK of the items on `lines` of item file `key`, read up to the last of them; undefined once `stopped()`. */
async function keysOnFileLines(run: Storage, key: string, lines: Set<number>, stopped: () => boolean): Promise<Map<number, { PK: string; SK: string }> | undefined> {
  let last = 0;
  for (const line of lines) last = Math.max(last, line);
  const found = new Map<number, { PK: string; SK: string }>();
  const stored = await run.get(key);
  if (stopped()) {
    stored.destroy();
    return undefined;
  }
  const text = decompress(stored, key);
  try {
    let line = 0;
    for await (const json of textLines(text)) {
      if (stopped()) return undefined;
      if (lines.has(line)) {
        const item = JSON.parse(json).Item;
        found.set(line, { PK: item.PK.S, SK: item.SK.S });
      }
      if (++line > last) break;
    }
  } catch (err) {
    throw new UserError(`${run.uri}/${key}: ${errorMessage(err)}`);
  } finally {
    // Read only up to the last line wanted: the stored object's stream is let go of too.
    text.destroy();
    stored.destroy();
  }
  if (found.size !== lines.size) {
    let missing = last;
    for (const line of lines) if (!found.has(line)) missing = Math.min(missing, line);
    throw new UserError(`${run.uri}/${key} has no line ${missing}, which its keys file names: the file changed after transform`);
  }
  return found;
}

/** Runs at most `n` of the functions given at once, the rest in turn. */
function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    if (active < n) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await fn();
    } finally {
      // The slot goes straight to the next waiting call, if any.
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}
