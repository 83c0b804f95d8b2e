// A unit's rows built on two threads. A table of one part is one unit, and a
// unit ran on one core: a `TABLE=` rerun, or a run of one small table, left
// the other cores idle. When the runner has cores to spare, the unit's thread
// still reads and parses the CSV, but hands pushes of records, whenever the
// helper thread has room, to that thread to build their item lines.
// Every batch, built here or there, is taken in row order (transform/unit.ts),
// so the unit's files are the very bytes one thread makes.
import { Worker } from 'node:worker_threads';
import { ByteBuffer } from '../lib/byte-buffer.ts';
import { CsvRecord, eachRecord, type ParsedRecords } from '../lib/csv-records.ts';
import { UserError, errorMessage } from '../lib/errors.ts';
import { ItemBuilder, isReject, type Reject } from '../model/item.ts';
import { HASH_BYTES } from './duplicate-keys.ts';
import { writeKeyHash } from './key-hash.ts';
import { JoinIndex } from './join-index.ts';
import { openRun, unitOf, type UnitTask } from './task.ts';

/**
 * A batch of rows built, as arrays (a helper's batch crosses threads by
 * transfer, not as an object per row): per data row, whether it is an item
 * or a reject, an item's size, ttl and key hash; the rejects in order; the
 * items' lines.
 */
export interface BuiltBatch {
  /** Records in the batch, the header (row 0) included when it is the first. */
  records: number;
  /** Data rows built (the results). */
  count: number;
  /** Per result: 1 for a reject (the next of `rejects`), 0 for an item. */
  rejected: Uint8Array;
  rejects: Reject[];
  /** Per result: the item's size by DynamoDB's rules; its ttl (NaN: none); its key's hash at 16·i (writeKeyHash). */
  sizes: Float64Array;
  ttls: Float64Array;
  hashes: Buffer;
  /** Item lines, each ending in its newline; `ends[i]`: where result i's line ends (a reject's: where the last one did). */
  lines: Buffer;
  ends: Int32Array;
  warnings: Record<string, number>;
  /** A row that could not be built stops the unit there: the rows before it are the results. */
  error?: { message: string; user: boolean };
}

/**
 * Builds the records of `parsed`; the first is row `firstRow` (row 0, the
 * header, is skipped). The lines are written to `line` (emptied first); the
 * batch's `lines` are a view of it.
 */
export function buildBatch(builder: ItemBuilder, parsed: ParsedRecords, firstRow: number, warnings: Record<string, number>, line: ByteBuffer): BuiltBatch {
  line.length = 0;
  const rows = parsed.count;
  const rejected = new Uint8Array(rows);
  const rejects: Reject[] = [];
  const sizes = new Float64Array(rows);
  const ttls = new Float64Array(rows);
  const hashes = Buffer.from(new ArrayBuffer(rows * HASH_BYTES));
  const ends = new Int32Array(rows);
  let count = 0;
  let rowNumber = firstRow;
  let error: BuiltBatch['error'];
  try {
    eachRecord(parsed, new CsvRecord(), (record) => {
      const row = rowNumber++;
      if (row === 0) return;
      const before = line.length;
      const result = builder.buildRecord(record, row, line);
      if (isReject(result)) {
        // A reject may leave part of its line written: dropped (the next line starts where the last one ended).
        line.length = before;
        rejected[count] = 1;
        rejects.push(result);
      } else {
        sizes[count] = result.size;
        ttls[count] = result.ttl ?? NaN;
        writeKeyHash(result.pk, result.sk, hashes, count * HASH_BYTES);
      }
      ends[count++] = line.length;
    });
  } catch (err) {
    error = { message: errorMessage(err), user: err instanceof UserError };
  }
  return {
    records: parsed.count, count, rejected, rejects, sizes, ttls, hashes, lines: line.buffer.subarray(0, line.length), ends, warnings,
    ...(error ? { error } : {}),
  };
}

export type HelperRequest =
  | { kind: 'build-open'; task: UnitTask; queued: Int32Array }
  | { kind: 'build-batch'; id: number; parsed: ParsedRecords; firstRow: number };
export type HelperReply = { id: number; batch: BuiltBatch } | { failed: string; user: boolean };

const asBuffer = (a: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** The unit's side: a worker thread that builds batches of this unit's rows. */
export class BuildHelper {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: (batch: BuiltBatch) => void; reject: (err: Error) => void }>();
  private nextId = 0;
  private failed: Error | undefined;
  /**
   * [0]: batches sent and not yet built, counted down by the helper as it
   * builds them; [1]: 1 once the helper has opened the unit. Shared, as its
   * replies wait until this thread next turns to its event loop, which a unit
   * reading buffered chunks seldom does.
   */
  private readonly queued = new Int32Array(new SharedArrayBuffer(8));

  /** `entry`: the transform worker's (worker-bundle.ts); `task`: the unit as UnitWorkers would send it. */
  constructor(entry: URL, task: UnitTask) {
    this.worker = new Worker(entry, { resourceLimits: { maxYoungGenerationSizeMb: 24 } });
    this.worker.on('message', (reply: HelperReply) => {
      if ('failed' in reply) return this.fail(reply.user ? new UserError(reply.failed) : new Error(reply.failed));
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      // Transferred as plain Uint8Arrays: held lines and key hashes copy from a Buffer.
      const { lines, hashes } = reply.batch;
      waiter?.resolve({ ...reply.batch, lines: asBuffer(lines), hashes: asBuffer(hashes) });
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`transform build helper exited with code ${code}`)));
    this.worker.postMessage({ kind: 'build-open', task, queued: this.queued } satisfies HelperRequest);
  }

  /** Batches sent and not yet built. */
  get queuedBatches(): number {
    return Atomics.load(this.queued, 0);
  }

  /**
   * Whether the helper has opened the unit and may be sent batches. Until
   * then this thread builds them all: a model the worker bundle cannot run (a
   * file read beside its module, say) fails only the helper's open, and the
   * unit is then built here alone, as without a helper.
   */
  get open(): boolean {
    return this.failed === undefined && Atomics.load(this.queued, 1) === 1;
  }

  /** Why the helper failed, if it did. */
  get failure(): Error | undefined {
    return this.failed;
  }

  /** Builds a copy of `parsed` (copyParsed: its buffers go to the helper). */
  build(parsed: ParsedRecords, firstRow: number): Promise<BuiltBatch> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    Atomics.add(this.queued, 0, 1);
    const done = new Promise<BuiltBatch>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    const buffers = [parsed.bytes, parsed.firsts, parsed.lasts, parsed.recordEnds, parsed.starts, parsed.ends].map((a) => a.buffer as ArrayBuffer);
    this.worker.postMessage({ kind: 'build-batch', id, parsed, firstRow } satisfies HelperRequest, buffers);
    return done;
  }

  async close(): Promise<void> {
    this.failed ??= new Error('transform build helper closed');
    await this.worker.terminate();
  }

  private fail(err: Error): void {
    this.failed ??= err;
    for (const waiter of this.waiting.values()) waiter.reject(this.failed);
    this.waiting.clear();
  }
}

/** The helper thread's side: answers build requests through `post` (worker.ts routes them here). */
export function serveBuilds(post: (reply: HelperReply, transfer: ArrayBuffer[]) => void): (request: HelperRequest) => Promise<void> {
  let ready: Promise<{ builder: ItemBuilder; warnings: { current: Record<string, number> } }> | undefined;
  let queued: Int32Array;
  let lines: ByteBuffer | undefined;
  return async (request) => {
    if (request.kind === 'build-open') {
      const { task } = request;
      queued = request.queued;
      ready = (async () => {
        const { extract } = await openRun(task);
        const unit = await unitOf(task, extract);
        const warnings = { current: {} as Record<string, number> };
        const joins = new Map(task.joins.map(([name, data]) => [name, new JoinIndex(data)]));
        const builder = new ItemBuilder(unit.mapping.mapper.mapper, unit.mapping.table, joins, (column) => {
          warnings.current[column] = (warnings.current[column] ?? 0) + 1;
        });
        Atomics.store(queued, 1, 1);
        return { builder, warnings };
      })();
      ready.catch((err) => post({ failed: errorMessage(err), user: err instanceof UserError }, []));
      return;
    }
    let opened;
    try {
      opened = await ready!;
    } catch {
      return;
    }
    opened.warnings.current = {};
    lines ??= new ByteBuffer(1024 * 1024);
    // parsed's buffers arrive as plain Uint8Array: buildRecord reads a Buffer.
    const bytes = Buffer.from(request.parsed.bytes.buffer, request.parsed.bytes.byteOffset, request.parsed.bytes.byteLength);
    const batch = buildBatch(opened.builder, { ...request.parsed, bytes }, request.firstRow, opened.warnings.current, lines);
    Atomics.sub(queued!, 0, 1);
    // The lines in a buffer of their own, to transfer: `lines` is reused for the next batch.
    const own = new Uint8Array(batch.lines);
    const transfer = [own.buffer, batch.ends.buffer, batch.rejected.buffer, batch.sizes.buffer, batch.ttls.buffer, batch.hashes.buffer] as ArrayBuffer[];
    post({ id: request.id, batch: { ...batch, lines: own as Buffer } }, transfer);
  };
}
