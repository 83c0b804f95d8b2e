// What the endpoint knows of one import, and how DescribeImport
// (ImportTableDescription) and ListImports (ImportSummary) show it.
//
// The counters are published when the import ends: measured against AWS,
// every DescribeImport of a running import reports 0 processed, imported and
// errors, and no ProcessedSizeBytes or EndTime (scylladb/scylladb
// test/alternator/test_import.py, points 9 and 10), so a progress display
// built on them shows nothing until the end, here as there.
import type { ImportTableRequest } from './import-request.ts';
import { IMPORT_LOG_GROUP, logGroupArn } from './log-store.ts';
import { epochSeconds } from './protocol.ts';

export type ImportStatus = 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';

export interface FinalCounts { processed: number; imported: number; errors: number; bytes: number }

export class ImportRecord {
  status: ImportStatus = 'IN_PROGRESS';
  endTime: number | undefined;
  counts: FinalCounts | undefined;
  failure: { code: string; message: string } | undefined;

  constructor(
    readonly id: string,
    readonly arn: string,
    readonly tableArn: string,
    readonly tableId: string,
    readonly clientToken: string,
    readonly request: ImportTableRequest,
    readonly startTime: number,
  ) {}

  get tableName(): string { return this.request.TableCreationParameters.TableName; }

  finish(status: Exclude<ImportStatus, 'IN_PROGRESS'>, counts: FinalCounts, failure?: { code: string; message: string }): void {
    this.counts = { ...counts };
    this.failure = failure;
    this.endTime = Date.now();
    this.status = status;
  }

  description(): Record<string, unknown> {
    const r = this.request;
    return {
      ImportArn: this.arn,
      ImportStatus: this.status,
      TableArn: this.tableArn,
      TableId: this.tableId,
      ClientToken: this.clientToken,
      S3BucketSource: r.S3BucketSource,
      ErrorCount: this.counts?.errors ?? 0,
      CloudWatchLogGroupArn: logGroupArn(IMPORT_LOG_GROUP),
      InputFormat: r.InputFormat,
      ...(r.InputFormatOptions ? { InputFormatOptions: r.InputFormatOptions } : {}),
      InputCompressionType: r.InputCompressionType ?? 'NONE',
      TableCreationParameters: r.TableCreationParameters,
      StartTime: epochSeconds(this.startTime),
      ...(this.endTime !== undefined ? { EndTime: epochSeconds(this.endTime) } : {}),
      ...(this.counts ? { ProcessedSizeBytes: this.counts.bytes } : {}),
      ProcessedItemCount: this.counts?.processed ?? 0,
      ImportedItemCount: this.counts?.imported ?? 0,
      ...(this.failure ? { FailureCode: this.failure.code, FailureMessage: this.failure.message } : {}),
    };
  }

  summary(): Record<string, unknown> {
    return {
      ImportArn: this.arn,
      ImportStatus: this.status,
      TableArn: this.tableArn,
      S3BucketSource: this.request.S3BucketSource,
      InputFormat: this.request.InputFormat,
      StartTime: epochSeconds(this.startTime),
      ...(this.endTime !== undefined ? { EndTime: epochSeconds(this.endTime) } : {}),
      CloudWatchLogGroupArn: logGroupArn(IMPORT_LOG_GROUP),
    };
  }
}
