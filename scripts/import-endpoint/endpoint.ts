// The HTTP service: DynamoDB's ImportTable, DescribeImport and ListImports and
// CloudWatch Logs' reads answered here, everything else passed through to
// DynamoDB Local. One port serves both AWS_ENDPOINT_URL_DYNAMODB and
// AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: the X-Amz-Target header tells them apart.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { S3Client } from '@aws-sdk/client-s3';
import { DynamoDbLocal } from './dynamodb-local.ts';
import { Imports } from './imports.ts';
import { LogStore } from './log-store.ts';
import { forward } from './pass-through.ts';
import { ApiError, DYNAMODB_TARGET_PREFIX, LOGS_TARGET_PREFIX, parseRequest, readBody, sendError, sendJson, type Service } from './protocol.ts';

export interface EndpointOptions {
  /** DynamoDB Local's own URL. */
  dynamoDbLocalUrl: string;
  s3: S3Client;
  log: (message: string) => void;
}

const OWN_OPERATIONS = new Set(['ImportTable', 'DescribeImport', 'ListImports']);

export function createEndpoint(options: EndpointOptions): http.Server {
  const upstream = new URL(options.dynamoDbLocalUrl);
  const ddb = new DynamoDbLocal(options.dynamoDbLocalUrl);
  const logs = new LogStore();
  const imports = new Imports(ddb, { s3: options.s3, ddb, logs, log: options.log });

  const answer = async (res: ServerResponse, service: Service, work: () => Promise<unknown> | unknown) => {
    try {
      sendJson(res, service, 200, await work());
    } catch (err) {
      if (err instanceof ApiError) { sendError(res, service, err); return; }
      options.log(`internal error: ${(err as Error).stack ?? String(err)}`);
      sendError(res, service, new ApiError(service === 'dynamodb' ? 'InternalServerError' : 'ServiceUnavailableException', 'Internal error in the local import endpoint', 500));
    }
  };

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    if (target.startsWith(LOGS_TARGET_PREFIX)) {
      const body = await readBody(req);
      await answer(res, 'logs', () => logs.handle(target.slice(LOGS_TARGET_PREFIX.length), parseRequest(body)));
      return;
    }
    const operation = target.startsWith(DYNAMODB_TARGET_PREFIX) ? target.slice(DYNAMODB_TARGET_PREFIX.length) : '';
    if (OWN_OPERATIONS.has(operation)) {
      const body = await readBody(req);
      await answer(res, 'dynamodb', () => imports.handle(operation, parseRequest(body)));
      return;
    }
    if (operation === 'DescribeTable') {
      // While an import writes into it, DescribeTable says CREATING, as on AWS.
      const body = await readBody(req);
      let tableName: unknown;
      try { tableName = (JSON.parse(body.toString('utf8')) as { TableName?: unknown }).TableName; } catch { /* DynamoDB Local will say what is wrong */ }
      const importing = typeof tableName === 'string' && imports.inProgressFor(tableName) !== undefined;
      forward(upstream, req, res, { body, ...(importing ? { rewrite: creatingTable } : {}) });
      return;
    }
    forward(upstream, req, res);
  };

  return http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      options.log(`internal error: ${(err as Error).stack ?? String(err)}`);
      if (!res.headersSent) sendError(res, 'dynamodb', new ApiError('InternalServerError', 'Internal error in the local import endpoint', 500));
      else res.destroy();
    });
  });
}

function creatingTable(answer: Record<string, unknown>): Record<string, unknown> {
  const table = answer.Table as Record<string, unknown> | undefined;
  if (!table) return answer;
  const indexes = (table.GlobalSecondaryIndexes as Array<Record<string, unknown>> | undefined)?.map((i) => ({ ...i, IndexStatus: 'CREATING' }));
  return { ...answer, Table: { ...table, TableStatus: 'CREATING', ...(indexes ? { GlobalSecondaryIndexes: indexes } : {}) } };
}
