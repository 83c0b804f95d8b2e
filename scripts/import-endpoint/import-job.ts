// One import, run in the background after ImportTable answered: read every
// object under S3KeyPrefix (in key order), turn its records into items, write
// them into the table ImportTable created, log each failed item, and end
// COMPLETED, or FAILED with ItemValidationError when any item failed (the
// table keeps the items that were written, as on AWS).
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import type { DynamoDbLocal } from './dynamodb-local.ts';
import type { ImportRecord } from './import-record.ts';
import { ItemWriter, type ItemPointer } from './item-writer.ts';
import { IMPORT_LOG_GROUP, type LogStore } from './log-store.ts';
import { readObjectRecords, type ByteCounter } from './object-records.ts';

export interface JobContext {
  s3: S3Client;
  ddb: DynamoDbLocal;
  logs: LogStore;
  log: (message: string) => void;
}

const ITEM_VALIDATION_MESSAGE = 'Some of the items failed validation checks and were not imported. Please check CloudWatch error logs for more details.';

interface Counts { processed: number; imported: number; errors: number; bytes: number }

async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    // A zero-byte key ending in '/' is a console "folder", not data.
    for (const o of page.Contents ?? []) if (!(o.Key!.endsWith('/') && (o.Size ?? 0) === 0)) keys.push(o.Key!);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

/** S3 failures as ImportTable reports them (FailureCode S3NoSuchBucket, S3AccessDenied). */
function s3Failure(err: unknown): { code: string; message: string } {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  if (e.name === 'NoSuchBucket' || e.$metadata?.httpStatusCode === 404) return { code: 'S3NoSuchBucket', message: 'The specified bucket does not exist (Service: Amazon S3; Status Code: 404; Error Code: NoSuchBucket)' };
  if (e.name === 'AccessDenied' || e.$metadata?.httpStatusCode === 403) return { code: 'S3AccessDenied', message: 'Access Denied (Service: Amazon S3; Status Code: 403; Error Code: AccessDenied)' };
  return { code: 'S3ReadError', message: `${e.name ?? 'Error'}: ${e.message ?? 'the S3 source could not be read'}` };
}

export async function runImport(record: ImportRecord, ctx: JobContext): Promise<void> {
  const request = record.request;
  const table = request.TableCreationParameters;
  const bucket = request.S3BucketSource.S3Bucket;
  const counts: Counts = { processed: 0, imported: 0, errors: 0, bytes: 0 };
  const logError = (pointer: ItemPointer, message: string) => {
    counts.errors++;
    ctx.logs.put(IMPORT_LOG_GROUP, `${record.id}/error`, JSON.stringify({ itemS3Pointer: pointer, importArn: record.arn, errorMessages: [message] }));
  };

  let keys: string[];
  try {
    keys = await listKeys(ctx.s3, bucket, request.S3BucketSource.S3KeyPrefix ?? '');
  } catch (err) {
    // The S3 source is checked before any data is imported: AWS then leaves no table behind.
    const failure = s3Failure(err);
    await ctx.ddb.call('DeleteTable', { TableName: table.TableName }).catch(() => {});
    record.finish('FAILED', counts, failure);
    ctx.log(`import ${record.id}: FAILED ${failure.code}`);
    return;
  }

  const writer = new ItemWriter(ctx.ddb, table.TableName, table.KeySchema, {
    written: (n) => { counts.imported += n; },
    failed: logError,
  });
  try {
    for (const key of keys) {
      let body: Readable;
      try {
        body = (await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body as Readable;
      } catch (err) {
        const failure = s3Failure(err);
        logError({ bucket, key, itemIndex: 0 }, failure.message);
        counts.processed++;
        continue;
      }
      const counter: ByteCounter = { bytes: 0 };
      const records = readObjectRecords(body, {
        format: request.InputFormat,
        compression: request.InputCompressionType ?? 'NONE',
        csv: request.InputFormatOptions?.Csv,
        keySchema: table.KeySchema,
        definitions: table.AttributeDefinitions,
      }, counter);
      for await (const r of records) {
        counts.processed++;
        const pointer = { bucket, key, itemIndex: r.index };
        if ('item' in r) {
          await writer.add(r.item, pointer);
        } else {
          logError(pointer, r.error);
          if (r.stop) break;
        }
      }
      body.destroy();
      counts.bytes += counter.bytes;
    }
    await writer.drain();
  } catch (err) {
    // DynamoDB Local or s3rver went away mid-import.
    await writer.drain().catch(() => {});
    record.finish('FAILED', counts, { code: 'InternalServerError', message: `The import stopped: ${(err as Error).message}` });
    ctx.log(`import ${record.id}: FAILED (internal: ${(err as Error).message})`);
    return;
  }
  record.finish(counts.errors > 0 ? 'FAILED' : 'COMPLETED', counts,
    counts.errors > 0 ? { code: 'ItemValidationError', message: ITEM_VALIDATION_MESSAGE } : undefined);
  ctx.log(`import ${record.id} into ${table.TableName}: ${record.status}, ${keys.length} object(s), processed ${counts.processed}, imported ${counts.imported}, errors ${counts.errors}, ${counts.bytes} bytes`);
}
