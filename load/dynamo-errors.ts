// Which DynamoDB errors are worth another attempt, and how to name one in a message.

const RETRYABLE = new Set([
  'ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded',
  'InternalServerError', 'ServiceUnavailable', 'LimitExceededException', 'TimeoutError',
  'ECONNRESET', 'EPIPE', 'ETIMEDOUT',
]);

export function isRetryable(err: unknown): boolean {
  const e = err as { name?: string; code?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  // 413: the request is too large and will be as large next time.
  if (e.$metadata?.httpStatusCode === 413) return false;
  if (e.$retryable) return true;
  if (RETRYABLE.has(e.name ?? '') || RETRYABLE.has(e.code ?? '')) return true;
  const status = e.$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}

/** An endpoint without the operation (DynamoDB Local has no PITR, no tagging). */
export function isUnsupported(err: unknown): boolean {
  const name = (err as { name?: string }).name;
  return name === 'UnknownOperationException' || (name === 'UnrecognizedClientException' && /not.*support/i.test((err as Error).message ?? ''));
}

export function isNotFound(err: unknown): boolean {
  return (err as { name?: string }).name === 'ResourceNotFoundException';
}

export function describeError(err: unknown): string {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  if (e.$metadata?.httpStatusCode === 413) return `the endpoint refused the request as too large (HTTP 413, ${e.name ?? 'no error name'})`;
  if (e.name && e.name !== 'Error') return `${e.name}${e.message && e.message !== e.name ? `: ${e.message}` : ''}`;
  return e.message ?? String(err);
}
