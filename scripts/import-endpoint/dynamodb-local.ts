// The endpoint's own calls to DynamoDB Local, on its wire protocol (JSON 1.0)
// rather than through the SDK: items reach DynamoDB Local exactly as the S3
// object holds them (B as base64 text, numbers as written), so DynamoDB Local
// validates what DynamoDB would, and nothing is re-marshalled on the way.
// DynamoDB Local ignores signatures but wants an Authorization header naming
// an access key; with -sharedDb any key sees the same tables.
import { ApiError } from './protocol.ts';

const AUTHORIZATION = 'AWS4-HMAC-SHA256 Credential=localimport/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0';

export class DynamoDbLocal {
  constructor(readonly url: string) {}

  /** One operation; a DynamoDB error comes back as ApiError with its type (the part after '#') and message. */
  async call<T = Record<string, unknown>>(operation: string, body: unknown): Promise<T> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `DynamoDB_20120810.${operation}`,
        authorization: AUTHORIZATION,
      },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: Record<string, unknown> = {};
    try { parsed = JSON.parse(text) as Record<string, unknown>; } catch { /* an HTML error page from Jetty */ }
    if (response.ok) return parsed as T;
    const type = String(parsed.__type ?? 'InternalFailure').split('#').pop()!;
    const message = String(parsed.message ?? parsed.Message ?? `HTTP ${response.status}`);
    throw new ApiError(type, message, response.status);
  }
}

/** Throttling and server-side failures are worth another attempt; validation errors are not. */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof ApiError)) return true; // connection reset, refused: DynamoDB Local restarting or busy
  return err.status >= 500 || ['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded'].includes(err.type);
}
