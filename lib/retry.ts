// The one retry helper: exponential backoff with full jitter (AWS Architecture
// Blog, "Exponential Backoff And Jitter"): attempt n waits a random time in
// [0, min(cap, base·2ⁿ)], so many workers throttled together spread out again
// instead of retrying in lockstep.
//
// It is also the one retry layer of every AWS call: awsRetryStrategy plugs
// this backoff into the SDK's retry step (lib/aws.ts), and nothing retries a
// failed call again above it, so an attempt the SDK reports is the only
// attempt there was.
import { debug, notice } from './log.ts';

/** Backoff one call has waited after failures other than throttling, past which each further such retry is said without --verbose. */
const NOTICE_AFTER_MS = 10_000;

export interface BackoffOptions {
  /** First delay bound, ms. */
  baseMs?: number;
  /** Largest delay bound, ms. */
  capMs?: number;
  /** Random in [0, 1); injectable so tests are deterministic. */
  random?: () => number;
}

export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 50;
  const cap = options.capMs ?? 5_000;
  const bound = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  return Math.floor((options.random ?? Math.random)() * bound);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface RetryOptions extends BackoffOptions {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Whether `err` is worth another attempt (default: always). */
  retryable?: (err: unknown) => boolean;
  /** Called before each wait (for logging / counting). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  sleep?: (ms: number) => Promise<void>;
}

/** Runs `work` until it succeeds, a non-retryable error occurs, or the attempts run out (then the last error). */
export async function retry<T>(work: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work(attempt);
    } catch (err) {
      if (attempt + 1 >= options.attempts || !(options.retryable?.(err) ?? true)) throw err;
      const delay = backoffDelay(attempt, options);
      options.onRetry?.(err, attempt, delay);
      await (options.sleep ?? sleep)(delay);
    }
  }
}

/** How many attempts, and how far apart, before giving up. */
export interface RetryPolicy extends BackoffOptions {
  /** Attempts in all, the first included. */
  attempts: number;
}

/** How the SDK classifies a failed attempt (its retry middleware does, from the error's name, code and HTTP status). */
export type AwsErrorType = 'THROTTLING' | 'TRANSIENT' | 'SERVER_ERROR' | 'CLIENT_ERROR';

/** One policy for throttling (the service asked to slow down), one for the rest worth retrying (5xx, resets, timeouts). */
export interface AwsRetryPolicy {
  throttling: RetryPolicy;
  transient: RetryPolicy;
  /** Backoff waited after failures other than throttling past which each such retry is said (default 10 s). */
  noticeAfterMs?: number;
}

/** A failed attempt as the SDK's retry middleware describes it. */
interface AwsFailure { errorType: AwsErrorType; error?: { name?: string; code?: string; $metadata?: { httpStatusCode?: number } } }

/** What failed, in a word: the network error's code (ECONNREFUSED), else the HTTP status and error name. */
function failure(info: AwsFailure): string {
  const { error } = info;
  if (error?.code) return error.code;
  const status = error?.$metadata?.httpStatusCode;
  return [status ? `HTTP ${status}` : undefined, error?.name && error.name !== 'Error' ? error.name : undefined].filter(Boolean).join(' ') || info.errorType;
}

/** A retry token as the SDK's retry middleware reads it: which retry this is, and how long to wait before it; and the backoff waited so far after failures other than throttling. */
interface AwsRetryToken { getRetryCount(): number; getRetryDelay(): number; waitedMs: number }

/**
 * The SDK's retry strategy (its RetryStrategyV2 interface), with `policy` and
 * this file's backoff: a client error (4xx other than throttling, an abort) is
 * never retried. Unlike the SDK's own strategy it keeps no retry quota shared
 * by the client, which would end every worker's retries early under the
 * sustained throttling a load at full concurrency meets.
 */
export function awsRetryStrategy(policy: AwsRetryPolicy, options: { service?: string; random?: () => number } = {}) {
  const { random } = options;
  const token = (count: number, delayMs: number, waitedMs: number): AwsRetryToken => ({ getRetryCount: () => count, getRetryDelay: () => delayMs, waitedMs });
  return {
    acquireInitialRetryToken: async (_scope: string): Promise<AwsRetryToken> => token(0, 0, 0),
    refreshRetryTokenForRetry: async (previous: AwsRetryToken, info: AwsFailure): Promise<AwsRetryToken> => {
      const rule = info.errorType === 'THROTTLING' ? policy.throttling : info.errorType === 'CLIENT_ERROR' ? undefined : policy.transient;
      const retries = previous.getRetryCount();
      if (!rule || retries + 1 >= rule.attempts) throw new Error('no retry left');
      const delayMs = backoffDelay(retries, { ...rule, ...(random ? { random } : {}) });
      const what = `${options.service ?? 'AWS'} call attempt ${retries + 1} of ${rule.attempts} failed (${failure(info)}); retrying in ${delayMs} ms`;
      // Throttling is expected under load and counted in the summaries; an endpoint that keeps
      // failing otherwise (refused, resets, 5xx) can take DynamoDB's policy 1.5 min to give up:
      // past 10 s of such waiting, say so (S3's 6 s of patience stays one line on failure). Only
      // those waits count, or a throttling storm would say every rare 5xx. A timeout is said at
      // once: it took the socket's whole timeout of silence (DynamoDB's: 5 min) to happen.
      const throttled = info.errorType === 'THROTTLING';
      const waitedMs = previous.waitedMs + (throttled ? 0 : delayMs);
      // The SDK names a reset connection TimeoutError too (code ECONNRESET): only silence counts.
      const timedOut = info.error?.name === 'TimeoutError' && !/^E(CONNRESET|PIPE|CONNREFUSED|CONNABORTED)$/.test(info.error.code ?? '');
      if (!throttled && (waitedMs >= (policy.noticeAfterMs ?? NOTICE_AFTER_MS) || timedOut)) notice(what);
      else debug(what);
      return token(retries + 1, delayMs, waitedMs);
    },
    recordSuccess: (_token: AwsRetryToken): void => {},
  };
}

/** The attempts an AWS call made, its retries included: the SDK's count on its result or error (1 when it has none). */
export function attemptsOf(resultOrError: unknown): number {
  const attempts = (resultOrError as { $metadata?: { attempts?: number } } | undefined)?.$metadata?.attempts;
  return typeof attempts === 'number' && attempts > 0 ? attempts : 1;
}
