// One unit of transform work: an extract part → its item file, rejects, keys
// file and, last, its unit record (only then is the unit done).
import { pipeline } from 'node:stream/promises';
import { compressionOf, decompressor } from '../lib/compression.ts';
import { UserError, errorMessage } from '../lib/errors.ts';
import { changedAfterExtract, inputPart, type ExtractManifest, type PartEntry, type TransformInput } from '../lib/manifest.ts';
import { Meter } from '../lib/meter.ts';
import type { PutResult, Storage } from '../lib/storage.ts';
import { CsvRecords, copyParsed, type CsvRecord, type CsvRow, type ParsedRecords } from '../lib/csv-records.ts';
import { ByteBuffer } from '../lib/byte-buffer.ts';
import { HASH_BYTES, KeyCollector } from './duplicate-keys.ts';
import { HeldLines, lineOrder } from './item-order.ts';
import { writeItemFile } from './item-file.ts';
import { ItemBuilder, epochSeconds, isReject, type Item, type ItemKeys, type Reject } from '../model/item.ts';
import { JoinIndexBuilder, type JoinIndex, type JoinIndexFile } from './join-index.ts';
import { readParquetRows } from './parquet-rows.ts';
import { buildBatch, type BuildHelper, type BuiltBatch } from './build-helper.ts';
import { type Unit, type UnitOptions, type UnitRecord } from './units.ts';
import { itemsKey, keysKey, rejectsKey, unitKey } from '../lib/run-layout.ts';

/** The lookup of `match` → `take` over every part of table `name` (the files `input` names, as the units read), as a file for openJoinIndex. */
export async function buildJoin(run: Storage, extract: ExtractManifest, name: string, match: string, take: string, input?: TransformInput): Promise<JoinIndexFile> {
  const table = extract.tables.find((t) => t.name === name)!;
  const m = table.columns.findIndex((c) => c.name === match);
  const k = table.columns.findIndex((c) => c.name === take);
  if (m < 0 || k < 0) throw new UserError(`join on ${name}.${match} → ${name}.${take}: ${name} has no column ${m < 0 ? match : take}`);
  const builder = new JoinIndexBuilder(`join on ${name}.${match}`);
  const columns = table.columns.length;
  try {
    for (const part of table.parts.map((entry) => inputPart(entry, input))) {
      if (part.key.endsWith('.parquet')) {
        await readRows(run, name, part, (row) => builder.add(row[m] ?? null, row[k] ?? null));
      } else {
        // Only the two fields are made into strings.
        await readRecords(run, name, part, (record, rowNumber) => {
          if (record.count !== columns) {
            throw new UserError(`${run.uri}/${part.key} (table ${name}) row ${rowNumber}: ${record.count} fields where the manifest has ${columns} columns`);
          }
          builder.add(record.text(m), record.text(k));
        });
      }
    }
    return builder.build();
  } catch (err) {
    builder.discard();
    throw err instanceof UserError ? err : new UserError(errorMessage(err));
  }
}

/**
 * Streams an extract part's data rows (row 0, the header, is dropped) to
 * `onRow`, and fails if the stored bytes do not match the manifest's sha256.
 * A Parquet part gives the very rows its CSV would (transform/parquet-rows.ts).
 */
export async function readRows(
  run: Storage, table: string, part: PartEntry,
  onRow: (row: CsvRow, rowNumber: number) => void,
  onChunk?: () => void | Promise<void>,
): Promise<number> {
  if (part.key.endsWith('.parquet')) return readParquetRows(run, table, part, onRow, onChunk);
  return readRecords(run, table, part, (record, rowNumber) => onRow(record.row(), rowNumber), onChunk);
}

/** A CSV part's data rows, each handed on as its bytes (lib/csv-records.ts): valid only during the call. */
export async function readRecords(
  run: Storage, table: string, part: PartEntry,
  onRecord: (record: CsvRecord, rowNumber: number) => void,
  onChunk?: () => void | Promise<void>,
): Promise<number> {
  const records = new CsvRecords();
  let rowNumber = -1;
  const each = (record: CsvRecord) => {
    rowNumber++;
    if (rowNumber > 0) onRecord(record, rowNumber);
  };
  await readCsv(run, table, part, (chunk) => records.push(chunk, each), () => records.end(each), onChunk);
  return checkRows(run, table, part, rowNumber);
}

/** A CSV part's bytes, decompressed, to `onBytes`, then `onEnd`; fails if the stored bytes do not match the manifest's sha256. */
async function readCsv(
  run: Storage, table: string, part: PartEntry,
  onBytes: (chunk: Buffer) => void, onEnd: () => void, onChunk?: () => void | Promise<void>, onDone?: () => Promise<void>,
): Promise<void> {
  const stored = new Meter();
  // gzip in 64 KiB chunks: 256 KiB measured the same CPU and ~25 MB more peak RSS (larger strings per chunk).
  // A part's compression is known by its name (extract's COMPRESSION).
  const decompress = decompressor(compressionOf(part.key));
  try {
    await pipeline(await run.get(part.key), stored, decompress, async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        onBytes(chunk);
        await onChunk?.();
      }
      onEnd();
      await onDone?.();
      yield* [];
    });
  } catch (err) {
    throw readError(run, table, part, err);
  }
  if (stored.sha256 !== part.sha256) {
    throw new UserError(`${run.uri}/${part.key} (table ${table}) does not match the extract manifest's sha256: ${changedAfterExtract(table)}`);
  }
}

/** An error reading `part`, naming it. */
function readError(run: Storage, table: string, part: PartEntry, err: unknown): UserError {
  // A UserError already names its file (the item file a unit could not write, say).
  if (err instanceof UserError) return err;
  return new UserError(`${run.uri}/${part.key} (table ${table}): ${errorMessage(err)}`);
}

/** Pushes of records waiting for the build helper at most; this thread builds the others. */
const HELPER_BATCHES = 4;
/** Batches read ahead of the one taken next (the oldest waits for its build). */
const QUEUED_BATCHES = 16;

/**
 * A CSV part's rows built in batches (one per push of records), some of them
 * on `helper` (build-helper.ts), handed to `onBatch` in row order. An error
 * in reading waits until the batches before it are taken, so the first bad
 * row stops the unit as it would on one thread.
 */
async function readBuilt(
  run: Storage, table: string, part: PartEntry, builder: ItemBuilder, helper: BuildHelper,
  onBatch: (batch: BuiltBatch, firstRow: number) => void, onChunk?: () => void | Promise<void>,
): Promise<number> {
  const records = new CsvRecords();
  const queue: { firstRow: number; batch: Promise<BuiltBatch>; out?: ByteBuffer }[] = [];
  // The buffers of batches built here, reused once taken.
  const free: ByteBuffer[] = [];
  let recordCount = 0;
  let failed: unknown;
  const add = (parsed: ParsedRecords) => {
    const firstRow = recordCount;
    recordCount += parsed.count;
    // The helper takes a push while it is open and has room; this thread builds the others now (parsed holds only during this call).
    if (helper.open && helper.queuedBatches < HELPER_BATCHES) {
      const batch = helper.build(copyParsed(parsed), firstRow);
      batch.catch(() => {}); // awaited in turn by take
      queue.push({ firstRow, batch });
    } else {
      // Room for the usual lines (items run about 3× their CSV); a huge record's grows as it is written.
      const out = free.pop() ?? new ByteBuffer(Math.min(parsed.bytes.length * 4, 4 * 1024 * 1024));
      queue.push({ firstRow, batch: Promise.resolve(buildBatch(builder, parsed, firstRow, {}, out)), out });
    }
  };
  const guarded = (read: () => void) => () => {
    if (failed !== undefined) return;
    try { read(); } catch (err) { failed = err; }
  };
  // What a take threw (the first bad row): the stream's error wins a pipeline that fails while one waits.
  let stopped: { err: unknown } | undefined;
  const take = async (leave: number) => {
    try {
      while (queue.length > leave) {
        const { firstRow, batch, out } = queue.shift()!;
        onBatch(await batch, firstRow);
        if (out) free.push(out);
      }
      if (failed !== undefined && leave === 0) throw failed;
    } catch (err) {
      stopped ??= { err };
      throw err;
    }
  };
  let chunk: Buffer;
  const push = guarded(() => records.pushParsed(chunk, add));
  try {
    await readCsv(run, table, part, (bytes) => { chunk = bytes; push(); }, guarded(() => records.endParsed(add)), async () => {
      await take(failed === undefined ? QUEUED_BATCHES : 0);
      await onChunk?.();
    }, () => take(0));
  } catch (err) {
    // The stream failed (a file cut off, a read error) with batches not yet
    // taken, or while one was: a bad row in them came first, and one thread
    // would report it.
    if (!stopped) await take(0).catch(() => {});
    throw stopped ? readError(run, table, part, stopped.err) : err;
  }
  return checkRows(run, table, part, recordCount - 1);
}

/** The data rows read, once they match the manifest's count. */
function checkRows(run: Storage, table: string, part: PartEntry, rowNumber: number): number {
  if (rowNumber !== part.rows) {
    throw new UserError(`${run.uri}/${part.key} (table ${table}) holds ${Math.max(rowNumber, 0)} rows where the extract manifest says ${part.rows}`);
  }
  return rowNumber;
}

export async function transformUnit(
  run: Storage, unit: Unit, extract: ExtractManifest, joins: Map<string, JoinIndex>, options: UnitOptions,
  onProgress: (rows: number, bytes: number) => void, helper?: BuildHelper,
): Promise<UnitRecord> {
  const { table } = unit.mapping;
  // The file `--input` names (units from unitsOf already point at it; this keeps every caller to it).
  const part = inputPart(unit.part, options.input);
  const { mapper } = unit.mapping.mapper;
  const warnings: Record<string, number> = {};
  let builder: ItemBuilder;
  try {
    builder = new ItemBuilder(mapper, table, joins, (column) => { warnings[column] = (warnings[column] ?? 0) + 1; });
  } catch (err) {
    throw new UserError(errorMessage(err));
  }
  const asOf = epochSeconds(extract.as_of) ?? 0;
  const keys = new KeyCollector();
  const rejects: Reject[] = [];
  // Every line of the part is held until the last row is read: the file's order is a permutation of all of them.
  const held = new HeldLines(table.name, unit.index);
  let dropped = 0;
  let ddbBytes = 0;
  let maxItem = 0;
  let rowsIn = 0;
  const compression = options.compression ?? 'gzip';
  const key = itemsKey(table.name, unit.index, compression);
  let stored: PutResult;
  let jsonBytes: number;
  try {
    // What every row's item goes through; false for a reject or a dropped item, whose line is not held.
    const keep = (result: ItemKeys | Reject, rowNumber: number): boolean => {
      if (isReject(result)) {
        reject(result);
        return false;
      }
      if (!keepItem(result.size, result.ttl)) return false;
      // The line is the item's index for now; renumbered once the order is known.
      keys.add(result.pk, result.sk, rowNumber, held.count);
      return true;
    };
    const reject = (result: Reject) => {
      rowsIn++;
      rejects.push(result);
    };
    // An item counted; false when it is dropped as expired. Its caller then adds its key and holds its line.
    const keepItem = (size: number, ttl: number | undefined): boolean => {
      rowsIn++;
      if (options.dropExpired && ttl !== undefined && ttl < asOf) {
        dropped++;
        return false;
      }
      ddbBytes += size;
      if (size > maxItem) maxItem = size;
      return true;
    };
    const progress = () => onProgress(rowsIn, held.bytes);
    if (part.key.endsWith('.parquet')) {
      await readRows(run, table.name, part, (row, rowNumber) => {
        const item = builder.build(row, rowNumber);
        if (keep(item, rowNumber)) held.add(`${(item as Item).line}\n`);
      }, progress);
    } else if (helper) {
      await readBuilt(run, table.name, part, builder, helper, (batch, firstRow) => {
        for (const [column, n] of Object.entries(batch.warnings)) warnings[column] = (warnings[column] ?? 0) + n;
        let rowNumber = Math.max(firstRow, 1);
        let start = 0;
        let r = 0;
        for (let i = 0; i < batch.count; i++, rowNumber++) {
          const end = batch.ends[i]!;
          const ttl = batch.ttls[i]!;
          if (batch.rejected[i]) {
            reject(batch.rejects[r++]!);
          } else if (keepItem(batch.sizes[i]!, Number.isNaN(ttl) ? undefined : ttl)) {
            keys.addHash(batch.hashes, i * HASH_BYTES, rowNumber, held.count);
            held.addBytes(batch.lines, start, end);
          }
          start = end;
        }
        if (batch.error) throw batch.error.user ? new UserError(batch.error.message) : new Error(batch.error.message);
      }, progress);
    } else {
      // A CSV part's lines are written from its bytes, each into `line`, then held.
      const line = new ByteBuffer();
      await readRecords(run, table.name, part, (record, rowNumber) => {
        line.length = 0;
        if (keep(builder.buildRecord(record, rowNumber, line), rowNumber)) held.addBytes(line.buffer, 0, line.length);
      }, progress);
    }

    const order = lineOrder(table.name, unit.index, held.count);
    keys.renumberLines(order);
    [stored, jsonBytes] = await writeItemFile(run, key, held, compression, options.gzipLevel);
  } finally {
    held.close();
  }
  const items = held.count;

  if (rowsIn !== items + rejects.length + dropped) throw new Error(`unit ${key}: counts do not reconcile`);
  await run.put(rejectsKey(table.name, unit.index), rejects.map((r) => `${JSON.stringify(r)}\n`).join(''));
  await run.put(keysKey(table.name, unit.index), keys.sorted());
  const record: UnitRecord = {
    fingerprint: unit.fingerprint,
    table: table.name,
    part: {
      input: part.key,
      input_sha256: part.sha256,
      key,
      rows_in: rowsIn,
      items,
      rejected: rejects.length,
      dropped,
      raw_bytes: jsonBytes,
      bytes: stored.bytes,
      sha256: stored.sha256,
      ddb_bytes: ddbBytes,
    },
    warnings: Object.fromEntries(Object.entries(warnings).sort(([a], [b]) => (a < b ? -1 : 1))),
    max_item_bytes: maxItem,
    rejects_key: rejectsKey(table.name, unit.index),
    keys_key: keysKey(table.name, unit.index),
  };
  // The record is written last: only now is the unit done.
  await run.put(unitKey(table.name, unit.index), `${JSON.stringify(record, null, 2)}\n`);
  return record;
}
