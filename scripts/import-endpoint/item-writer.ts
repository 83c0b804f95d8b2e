// Writes an import's items into DynamoDB Local: BatchWriteItem, 25 items a
// call, a few calls in flight, UnprocessedItems and throttling retried with
// backoff (lib/retry.ts). A batch DynamoDB Local refuses as invalid is
// written again item by item, so the one bad item is named (an error at its
// itemIndex) and the others land, as each item stands alone in an import.
//
// Duplicate keys overwrite, last one in the source wins, and each counts as an
// imported item (S3DataImport.Validation: duplicates "will overwrite until one
// remains … are not counted as errors, and are not emitted to CloudWatch
// logs"). BatchWriteItem refuses two puts of one key in a call, and two calls
// in flight would race, so a key already pending first drains what is pending.
import { backoffDelay, sleep } from '../../lib/retry.ts';
import { isTransient, type DynamoDbLocal } from './dynamodb-local.ts';
import type { KeySchemaElement } from './import-request.ts';
import { primaryKeyOf, type ItemJson } from './item-check.ts';
import { ApiError } from './protocol.ts';

export interface ItemPointer { bucket: string; key: string; itemIndex: number }
interface Pending { item: ItemJson; pointer: ItemPointer; key: string }

export interface WriterEvents {
  written(count: number): void;
  failed(pointer: ItemPointer, message: string): void;
}

const BATCH = 25;
const ATTEMPTS = 10;

export class ItemWriter {
  private batch: Pending[] = [];
  private readonly batchKeys = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly inFlightKeys = new Map<string, number>();

  constructor(
    private readonly ddb: DynamoDbLocal,
    private readonly tableName: string,
    private readonly keySchema: KeySchemaElement[],
    private readonly events: WriterEvents,
    private readonly concurrency = 4,
  ) {}

  async add(item: ItemJson, pointer: ItemPointer): Promise<void> {
    const key = primaryKeyOf(item, this.keySchema);
    if (this.batchKeys.has(key) || this.inFlightKeys.has(key)) await this.drain();
    this.batch.push({ item, pointer, key });
    this.batchKeys.add(key);
    if (this.batch.length === BATCH) await this.send();
  }

  /** Everything added so far is written or reported failed. */
  async drain(): Promise<void> {
    if (this.batch.length > 0) await this.send();
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private async send(): Promise<void> {
    while (this.inFlight.size >= this.concurrency) await Promise.race(this.inFlight);
    const batch = this.batch;
    this.batch = [];
    this.batchKeys.clear();
    for (const p of batch) this.inFlightKeys.set(p.key, (this.inFlightKeys.get(p.key) ?? 0) + 1);
    const work = this.writeBatch(batch).finally(() => {
      this.inFlight.delete(work);
      for (const p of batch) {
        const n = this.inFlightKeys.get(p.key)! - 1;
        if (n === 0) this.inFlightKeys.delete(p.key); else this.inFlightKeys.set(p.key, n);
      }
    });
    this.inFlight.add(work);
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    let pending = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      let unprocessed: Array<{ PutRequest?: { Item: ItemJson } }>;
      try {
        const out = await this.ddb.call<{ UnprocessedItems?: Record<string, typeof unprocessed> }>('BatchWriteItem', {
          RequestItems: { [this.tableName]: pending.map((p) => ({ PutRequest: { Item: p.item } })) },
        });
        unprocessed = out.UnprocessedItems?.[this.tableName] ?? [];
      } catch (err) {
        if (isTransient(err) && attempt + 1 < ATTEMPTS) { await sleep(backoffDelay(attempt)); continue; }
        await this.writeOneByOne(pending);
        return;
      }
      const left = new Set(unprocessed.map((r) => primaryKeyOf(r.PutRequest!.Item, this.keySchema)));
      this.events.written(pending.length - left.size);
      pending = pending.filter((p) => left.has(p.key));
      if (pending.length > 0) {
        if (attempt + 1 >= ATTEMPTS) { await this.writeOneByOne(pending); return; }
        await sleep(backoffDelay(attempt));
      }
    }
  }

  private async writeOneByOne(batch: Pending[]): Promise<void> {
    for (const p of batch) {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.ddb.call('PutItem', { TableName: this.tableName, Item: p.item });
          this.events.written(1);
          break;
        } catch (err) {
          if (isTransient(err) && attempt + 1 < ATTEMPTS) { await sleep(backoffDelay(attempt)); continue; }
          this.events.failed(p.pointer, err instanceof ApiError ? err.message : `The item could not be written (${(err as Error).message})`);
          break;
        }
      }
    }
  }
}
