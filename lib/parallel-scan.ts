// A parallel Scan: `segments` workers each read one segment of the table
// (DynamoDB splits the key space), pages retried on throttling (in the SDK's
// retry step, lib/aws.ts). A shard of a sharded verify reads only its share of
// the segments (`segments` as a list).
import { ScanCommand, type DynamoDBClient, type ScanCommandInput } from '@aws-sdk/client-dynamodb';
import { UserError } from './errors.ts';
import { runPool } from './pool.ts';
import type { ItemValue } from '../model/attribute-json.ts';
import { describeError } from './dynamo-errors.ts';

export interface ScanOptions {
  client: Pick<DynamoDBClient, 'send'>;
  tableName: string;
  /** How many segments (all of them), or which ones of `totalSegments`. */
  segments: number | number[];
  totalSegments?: number;
  /** Strongly consistent unless false (half the read units; see verify --consistency). */
  consistentRead?: boolean;
  /** Extra Scan parameters: ProjectionExpression, FilterExpression, ExpressionAttributeNames/Values. */
  input?: Partial<ScanCommandInput>;
  /** Receives each page's items (called from several segments, one page at a time each). */
  onPage: (items: ItemValue[]) => void | Promise<void>;
  /** Once aborted (work beside the scan failed), no page follows and the calls in flight are aborted. */
  signal?: AbortSignal;
}

export async function parallelScan(options: ScanOptions): Promise<{ scanned: number }> {
  let scanned = 0;
  const list = Array.isArray(options.segments) ? options.segments : Array.from({ length: options.segments }, (_, i) => i);
  const total = options.totalSegments ?? (Array.isArray(options.segments) ? options.segments.length : options.segments);
  // One worker per segment, in the one pool: a segment that fails stops the others (their call in
  // flight is aborted, no page follows), instead of their reading on, paid, behind the error.
  await runPool(list, list.length, async (index, slot) => {
    const signal = options.signal ? AbortSignal.any([slot.signal, options.signal]) : slot.signal;
    let start: Record<string, unknown> | undefined;
    do {
      const page = await options.client.send(new ScanCommand({
        ...options.input,
        TableName: options.tableName,
        Segment: index,
        TotalSegments: total,
        ConsistentRead: options.consistentRead ?? true,
        ...(start ? { ExclusiveStartKey: start as ScanCommandInput['ExclusiveStartKey'] } : {}),
      }), { abortSignal: signal }).catch((err: unknown) => {
        throw new UserError(`cannot scan ${options.tableName}: ${describeError(err)}`);
      });
      scanned += page.ScannedCount ?? 0;
      await options.onPage((page.Items ?? []) as ItemValue[]);
      start = page.LastEvaluatedKey;
    } while (start && !signal.aborted);
  });
  return { scanned };
}
