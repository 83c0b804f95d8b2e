// What the loads of a run put into a DynamoDB table, per source table:
// `<run>/load/keys/<DynamoDB table>/<source table>/part-NNNNN.keys` (one per
// item file, 16 bytes of sha256(PK \0 SK) per item, the transform's key hash)
// and `earlier.keys` (keys an earlier load put there that the table's current
// items no longer have, kept until a --prune deletes them). --prune reads it to
// know which items this table put there (prune.ts says why). One file per item
// part keeps memory to a part's keys; a lost record only makes prune delete
// less. Files are emptied, never deleted: the load stage deletes no object.
import { createHash } from 'node:crypto';
import { ByteBuffer } from '../lib/byte-buffer.ts';
import type { Storage } from '../lib/storage.ts';
import { loadedKeysDir } from '../lib/run-layout.ts';

const HASH_BYTES = 16;
const EARLIER = 'earlier.keys';

/** `items/<table>/part-00000.json.gz` (`.json.zst`, `.json`) → `part-00000.keys` */
const partFile = (partKey: string) => `${partKey.slice(partKey.lastIndexOf('/') + 1).replace(/\.json(\.gz|\.zst)?$/, '')}.keys`;

function hashOf(key: string): Buffer {
  return createHash('sha256').update(key).digest().subarray(0, HASH_BYTES);
}

/** An item key (`PK\0SK`, as itemKey gives it) as a member of the Sets below. */
export function keyRecord(key: string): string {
  return hashOf(key).toString('base64');
}

/** The key records of one item part, as its items are read. */
export class PartKeys {
  private readonly records = new ByteBuffer(HASH_BYTES * 1024);

  add(key: string): void {
    this.records.appendBytes(hashOf(key), 0, HASH_BYTES);
  }

  addTo(set: Set<string>): void {
    for (let at = 0; at < this.records.length; at += HASH_BYTES) set.add(this.records.buffer.toString('base64', at, at + HASH_BYTES));
  }

  write(run: Storage, tableName: string, table: string, partKey: string): Promise<unknown> {
    return run.put(`${loadedKeysDir(tableName, table)}/${partFile(partKey)}`, this.records.take());
  }
}

/**
 * Ends a table's record after its parts were written: `earlier` (keys still
 * possibly in the table that the run no longer has) replaces earlier.keys, and
 * part files of an earlier, longer load are emptied.
 */
export async function finishLoadedKeys(run: Storage, tableName: string, table: string, partKeys: string[], earlier: Set<string>): Promise<void> {
  const dir = loadedKeysDir(tableName, table);
  const existing = await run.list(dir);
  if (earlier.size > 0 || existing.some((o) => o.key === `${dir}/${EARLIER}`)) {
    await run.put(`${dir}/${EARLIER}`, Buffer.concat([...earlier].map((k) => Buffer.from(k, 'base64'))));
  }
  const current = new Set([...partKeys.map((k) => `${dir}/${partFile(k)}`), `${dir}/${EARLIER}`]);
  for (const o of existing) if (!current.has(o.key) && o.bytes > 0) await run.put(o.key, Buffer.alloc(0));
}

/** The keys the run's loads of `table` put into `tableName`, or undefined when no load recorded any. */
export async function readLoadedKeys(run: Storage, tableName: string, table: string): Promise<Set<string> | undefined> {
  const files = await run.list(loadedKeysDir(tableName, table));
  if (files.length === 0) return undefined;
  const set = new Set<string>();
  for (const file of files) {
    const chunks: Buffer[] = [];
    for await (const chunk of await run.get(file.key)) chunks.push(chunk as Buffer);
    const records = Buffer.concat(chunks);
    for (let at = 0; at + HASH_BYTES <= records.length; at += HASH_BYTES) set.add(records.toString('base64', at, at + HASH_BYTES));
  }
  return set;
}
