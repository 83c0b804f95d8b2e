// Before ImportTable: the import quotas and the one placement rule a run can
// break, checked so that load refuses with the limit and the fix instead of
// starting an import DynamoDB fails hours later. Quotas: the developer guide's
// "Import from Amazon S3" quotas (ServiceQuotas.html#limits-import); the
// concurrent-import quota is also the API reference's LimitExceededException
// ("up to 50 simultaneous import table operations are allowed per account").
import { GetBucketLocationCommand, type S3Client } from '@aws-sdk/client-s3';
import { ListImportsCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { UserError } from '../lib/errors.ts';
import { formatBytes } from '../lib/log.ts';
import { describeError } from '../lib/dynamo-errors.ts';

/** Objects under the import's S3 prefix, per import. */
export const MAX_IMPORT_OBJECTS = 50_000;
/** Imports IN_PROGRESS at once, per account (an adjustable quota: --imports-in-progress-limit). */
export const MAX_IMPORTS_IN_PROGRESS = 50;
/**
 * Source data per import: 15 TB in three regions, 1 TB elsewhere. Decimal
 * terabytes: the guide does not say which, and the smaller reading refuses
 * first (2^40 would let 10% more through).
 */
const LARGE_SOURCE_REGIONS = new Set(['us-east-1', 'us-west-2', 'eu-west-1']);
const TB = 1e12;

export function maxImportSourceBytes(region: string): number {
  return (LARGE_SOURCE_REGIONS.has(region) ? 15 : 1) * TB;
}

export interface ImportPreflightFacts {
  tableName: string;
  bucket: string;
  keyPrefix: string;
  /** The table's region (the DynamoDB client's). */
  region: string;
  /** GetBucketLocation, as a region name. */
  bucketRegion: string;
  objects: number;
  /** Uncompressed bytes of the items (the transform manifest's raw_bytes): what ImportTable reads and bills. */
  rawBytes: number;
  importsInProgress: number;
  importsInProgressLimit: number;
}

/** Every refusal, each naming its limit and the fix; empty when the import may start. */
export function importPreflightProblems(f: ImportPreflightFacts): string[] {
  const source = `s3://${f.bucket}/${f.keyPrefix}`;
  const problems: string[] = [];
  if (f.objects > MAX_IMPORT_OBJECTS) {
    problems.push(`${source} holds ${f.objects} objects; one ImportTable reads at most ${MAX_IMPORT_OBJECTS}: transform again with larger parts (fewer, bigger item files), or load with --mode batch`);
  }
  const cap = maxImportSourceBytes(f.region);
  if (f.rawBytes > cap) {
    problems.push(`the items are ${formatBytes(f.rawBytes)} uncompressed (${f.rawBytes} bytes); ImportTable in ${f.region} imports at most ${cap / TB} TB: import from us-east-1, us-west-2 or eu-west-1 (15 TB), ask AWS Support to raise the quota, or load with --mode batch`);
  }
  if (f.bucketRegion !== f.region) {
    problems.push(`bucket ${f.bucket} is in ${f.bucketRegion}, table ${f.tableName} would be in ${f.region}: ImportTable reads a bucket of the table's region: set AWS_REGION=${f.bucketRegion}, or copy the run to a bucket in ${f.region}`);
  }
  if (f.importsInProgress >= f.importsInProgressLimit) {
    problems.push(`${f.importsInProgress} imports are IN_PROGRESS in ${f.region}; the account runs at most ${f.importsInProgressLimit} at once: wait for one to end (aws dynamodb list-imports), then rerun make load`);
  }
  return problems;
}

/** GetBucketLocation's answer as a region: none is us-east-1, and the legacy `EU` is eu-west-1 (S3 API reference). */
export function bucketRegionOf(locationConstraint: string | undefined): string {
  if (!locationConstraint) return 'us-east-1';
  return locationConstraint === 'EU' ? 'eu-west-1' : locationConstraint;
}

export async function bucketRegion(s3: Pick<S3Client, 'send'>, bucket: string, bucketOwner?: string): Promise<string> {
  try {
    const answer = await s3.send(new GetBucketLocationCommand({ Bucket: bucket, ...(bucketOwner ? { ExpectedBucketOwner: bucketOwner } : {}) }));
    return bucketRegionOf(answer.LocationConstraint);
  } catch (err) {
    throw new UserError(`cannot tell the region of bucket ${bucket} (GetBucketLocation: ${describeError(err)}): allow s3:GetBucketLocation on it to the identity running load`);
  }
}

/** Imports IN_PROGRESS in the account and region (ListImports, every page). */
export async function importsInProgress(client: Pick<DynamoDBClient, 'send'>): Promise<number> {
  let n = 0;
  let next: string | undefined;
  do {
    const page = await client.send(new ListImportsCommand({ PageSize: 25, ...(next ? { NextToken: next } : {}) }));
    n += (page.ImportSummaryList ?? []).filter((s) => s.ImportStatus === 'IN_PROGRESS').length;
    next = page.NextToken;
  } while (next);
  return n;
}

export function checkImportPreflight(f: ImportPreflightFacts): void {
  const problems = importPreflightProblems(f);
  if (problems.length > 0) throw new UserError(`import into table ${f.tableName} refused before ImportTable: ${problems.join('; ')}`);
}
