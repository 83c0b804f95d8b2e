// The AWS JSON protocols as the SDK reads them: DynamoDB speaks JSON 1.0,
// CloudWatch Logs JSON 1.1; the operation is named by the X-Amz-Target header
// (`DynamoDB_20120810.ImportTable`, `Logs_20140328.FilterLogEvents`). An error
// is HTTP 400 with `{"__type": "<namespace>#<Name>", "message": …}`: the SDK
// (@smithy/core loadJsonRpcErrorCode) keeps what follows the `#` as the error
// name and reads `message` (or `Message`).
import type { IncomingMessage, ServerResponse } from 'node:http';

export const DYNAMODB_TARGET_PREFIX = 'DynamoDB_20120810.';
export const LOGS_TARGET_PREFIX = 'Logs_20140328.';
const DYNAMODB_ERROR_NAMESPACE = 'com.amazonaws.dynamodb.v20120810';
const LOGS_ERROR_NAMESPACE = 'com.amazonaws.logs';

export type Service = 'dynamodb' | 'logs';

/** An error the API returns to its caller (4xx by default), as AWS names it. */
export class ApiError extends Error {
  constructor(readonly type: string, message: string, readonly status = 400) {
    super(message);
    this.name = type;
  }
}

export const validationError = (message: string): ApiError => new ApiError('ValidationException', message);

function contentType(service: Service): string {
  return service === 'dynamodb' ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.1';
}

let requestCounter = 0;
function requestId(): string {
  requestCounter++;
  return `LOCALIMPORT${Date.now().toString(36).toUpperCase()}${requestCounter.toString(36).toUpperCase().padStart(6, '0')}`;
}

export function sendJson(res: ServerResponse, service: Service, status: number, body: unknown): void {
  const text = Buffer.from(JSON.stringify(body), 'utf8');
  res.writeHead(status, {
    'content-type': contentType(service),
    'content-length': String(text.length),
    'x-amzn-requestid': requestId(),
  });
  res.end(text);
}

export function sendError(res: ServerResponse, service: Service, err: ApiError): void {
  const namespace = service === 'dynamodb' ? DYNAMODB_ERROR_NAMESPACE : LOGS_ERROR_NAMESPACE;
  sendJson(res, service, err.status, { __type: `${namespace}#${err.type}`, message: err.message });
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The request's JSON object; anything else is the SerializationException AWS answers. */
export function parseRequest(body: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
  } catch {
    throw new ApiError('SerializationException', 'Start of structure or map found where not expected.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ApiError('SerializationException', 'Start of structure or map found where not expected.');
  }
  return parsed as Record<string, unknown>;
}

/** Epoch seconds with milliseconds, the JSON protocols' timestamp form. */
export function epochSeconds(ms: number): number {
  return ms / 1000;
}
