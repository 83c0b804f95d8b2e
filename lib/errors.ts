// One error type for everything a user can fix: it prints as one line that says
// what went wrong and where, and the CLI exits non-zero without a stack trace.
export class UserError extends Error {
  /** `exitNow`: the process exits after printing, whatever work (an unanswered request) is still pending. */
  constructor(message: string, readonly exitCode = 1, readonly exitNow = false) {
    super(message);
    this.name = 'UserError';
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
