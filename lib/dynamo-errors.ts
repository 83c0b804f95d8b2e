// Which DynamoDB errors the load handles itself, and how to name one in a message.
// (Which are worth another attempt: the SDK's classification, lib/retry.ts awsRetryStrategy.)

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
