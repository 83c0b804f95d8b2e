// The one retry helper: exponential backoff with full jitter (AWS Architecture
// Blog, "Exponential Backoff And Jitter"): attempt n waits a random time in
// [0, min(cap, base·2ⁿ)], so many workers throttled together spread out again
// instead of retrying in lockstep.

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
