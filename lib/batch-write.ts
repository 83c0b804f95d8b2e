// BatchWriteItem with bounded concurrency: 25 requests per call (DynamoDB's
// limit), `concurrency` calls in flight. UnprocessedItems (what DynamoDB did
// not write, typically under throttling) are resent, alone, after a backoff
// with jitter. Errors (throttling, 5xx, resets) are retried only in the SDK's
// retry step (lib/aws.ts), whose attempts each call reports and the stats
// count. A batch's resends and its calls' retries share one budget of
// attempts, so the two do not multiply. An item counts as written once, when a
// response no longer lists it as unprocessed. The counts go into a stats object
// the caller may own, so a failed load's report still says what it sent and wrote.
import { BatchWriteItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { DYNAMODB_RETRY } from './aws.ts';
import { UserError } from './errors.ts';
import { debug } from './log.ts';
import { runPool, type PoolSlot } from './pool.ts';
import { attemptsOf, retry, type BackoffOptions } from './retry.ts';
import { describeError } from './dynamo-errors.ts';

export const BATCH_WRITE_LIMIT = 25;
/**
 * Request bytes per call: DynamoDB caps a BatchWriteItem at 16 MB, and
 * DynamoDB Local answered HTTP 413 to three items of a few MB of JSON each
 * (measured: 136,000 `{"N":"1"}` elements are 400 KB by DynamoDB's count and
 * about 1.4 MB on the wire). 4 MB keeps a call under both.
 */
export const BATCH_WRITE_BYTES = 4 * 1024 * 1024;

/** A write request and its size as sent (its JSON), so calls can be cut by bytes as well as by count. */
export interface SizedWrite { request: WriteRequest; bytes: number }

export interface BatchWriteOptions extends BackoffOptions {
  client: Pick<DynamoDBClient, 'send'>;
  tableName: string;
  concurrency: number;
  /** Calls per batch before giving up on items left unprocessed (the first one included). */
  attempts?: number;
  /**
   * Attempts per batch, its calls' retries in the SDK included, past which items
   * left unprocessed are not resent (default: the client's throttling policy,
   * DYNAMODB_RETRY). Each resend's call may retry throttling that many times
   * again, so without it a batch could make 15 × 60 attempts (hours of waits)
   * before failing; with it, fewer than twice the policy's.
   */
  attemptBudget?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Where the counts go (default: a new object), so the caller has them when batchWrite fails too. */
  stats?: BatchWriteStats;
  /** Called after each call DynamoDB answered, with the running totals. */
  onProgress?: (stats: BatchWriteStats) => void;
}

export interface BatchWriteStats {
  /** Write requests DynamoDB confirmed (puts and deletes). */
  written: number;
  /** BatchWriteItem attempts made: every request sent, the SDK's retries included. */
  calls: number;
  /** Items sent again because a response listed them as unprocessed. */
  unprocessed_resent: number;
  /** Attempts that failed with a throttling or transient error and were retried (by the SDK's retry step). */
  error_retries: number;
}

/**
 * Counts the HTTP attempts of one command, below the SDK's retry step: a call
 * stopped by its abort signal (while backing off, or in flight) comes back as
 * an AbortError without the SDK's $metadata.attempts, which would count it
 * as one attempt whatever it made.
 */
function countingAttempts<C extends BatchWriteItemCommand>(command: C, signal: AbortSignal): { command: C; sent: () => number } {
  let sent = 0;
  command.middlewareStack.add((next) => (args) => {
    // An attempt the signal already stopped is refused before it is sent (the HTTP handler checks too).
    if (!signal.aborted) sent++;
    return next(args);
  }, { step: 'deserialize', priority: 'low', name: 'pg2ddbCountAttempts' });
  return { command, sent: () => sent };
}

export const emptyBatchWriteStats = (): BatchWriteStats => ({ written: 0, calls: 0, unprocessed_resent: 0, error_retries: 0 });

class Unprocessed extends Error {
  constructor(readonly requests: WriteRequest[]) {
    super(`${requests.length} unprocessed item(s)`);
  }
}

/**
 * Groups a stream into batches of at most `size` values and, given
 * `bytesOf`, at most `maxBytes` (a value larger than that goes alone).
 */
export async function* batches<T>(
  source: AsyncIterable<T>, size = BATCH_WRITE_LIMIT, bytesOf?: (value: T) => number, maxBytes = BATCH_WRITE_BYTES,
): AsyncGenerator<T[]> {
  let batch: T[] = [];
  let bytes = 0;
  for await (const value of source) {
    const valueBytes = bytesOf?.(value) ?? 0;
    if (batch.length > 0 && bytes + valueBytes > maxBytes) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(value);
    bytes += valueBytes;
    if (batch.length === size) {
      yield batch;
      batch = [];
      bytes = 0;
    }
  }
  if (batch.length > 0) yield batch;
}

export async function batchWrite(requests: AsyncIterable<SizedWrite>, options: BatchWriteOptions): Promise<BatchWriteStats> {
  const stats = options.stats ?? emptyBatchWriteStats();
  const attempts = options.attempts ?? 15;
  const attemptBudget = options.attemptBudget ?? DYNAMODB_RETRY.throttling.attempts;
  // The attempts a call made: those counted as sent, or the SDK's count where the client has no
  // middleware stack to count in (a test's stand-in client).
  const countAttempts = (resultOrError: unknown, sent: number): number => {
    const made = Math.max(sent, attemptsOf(resultOrError));
    stats.calls += made;
    stats.error_retries += made - 1;
    return made;
  };
  // Once a batch has failed, the load fails: the batches in flight stop (their calls and the SDK's
  // waits between retries are aborted, nothing more is resent) instead of keeping the error
  // unsaid for as long as their throttling lasts. The load is an upsert, so a rerun completes them.
  const writeOne = async (batch: WriteRequest[], { signal }: PoolSlot): Promise<void> => {
    let pending = batch;
    let made = 0;
    await retry(async () => {
      const call = countingAttempts(new BatchWriteItemCommand({ RequestItems: { [options.tableName]: pending } }), signal);
      const out = await options.client.send(call.command, { abortSignal: signal }).then(
        (result) => { made += countAttempts(result, call.sent()); return result; },
        (err: unknown) => { made += countAttempts(err, call.sent()); throw err; },
      );
      const left = out.UnprocessedItems?.[options.tableName] ?? [];
      stats.written += pending.length - left.length;
      options.onProgress?.(stats);
      if (left.length > 0) {
        stats.unprocessed_resent += left.length;
        pending = left;
        throw new Unprocessed(left);
      }
    }, {
      ...options,
      attempts,
      retryable: (err) => err instanceof Unprocessed && made < attemptBudget && !signal.aborted,
      onRetry: (err, attempt, delayMs) => {
        debug(`${options.tableName}: BatchWriteItem call ${attempt + 1} left ${(err as Unprocessed).requests.length} item(s) unprocessed; resending in ${delayMs} ms`);
      },
    }).catch((err: unknown) => {
      if (err instanceof Unprocessed) {
        throw new UserError(`${options.tableName}: ${err.requests.length} item(s) still unprocessed after ${made} BatchWriteItem attempts (sustained throttling): rerun the load, it is an upsert`);
      }
      throw new UserError(`${options.tableName}: BatchWriteItem failed: ${describeError(err)}`);
    });
  };

  // A failure closes the item files being read (the pool ends the source), and is thrown once every
  // batch in flight has settled: `options.stats` then holds the final counts.
  await runPool(unwrap(batches(requests, BATCH_WRITE_LIMIT, (w) => w.bytes)), options.concurrency, writeOne);
  return stats;
}

async function* unwrap(source: AsyncIterable<SizedWrite[]>): AsyncGenerator<WriteRequest[]> {
  for await (const batch of source) yield batch.map((w) => w.request);
}
