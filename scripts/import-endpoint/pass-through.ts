// Every DynamoDB operation the endpoint does not implement goes to DynamoDB
// Local unchanged: same method, path, headers (raw, in order) and body bytes,
// streamed; the answer comes back the same way. Signatures are not redone:
// DynamoDB Local does not check them.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { ApiError, sendError } from './protocol.ts';

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export interface ForwardOptions {
  /** The request body when the caller already read it (sent as is); else the request is streamed. */
  body?: Buffer;
  /** Rewrites a successful JSON answer (DescribeTable during an import); the body's CRC header is dropped then. */
  rewrite?: (answer: Record<string, unknown>) => Record<string, unknown>;
}

export function forward(upstream: URL, req: IncomingMessage, res: ServerResponse, options: ForwardOptions = {}): void {
  const fail = (err: Error) => {
    if (!res.headersSent) sendError(res, 'dynamodb', new ApiError('InternalFailure', `DynamoDB Local did not answer: ${err.message}`, 500));
    else res.destroy(err);
  };
  const proxied = http.request({
    host: upstream.hostname,
    port: upstream.port,
    method: req.method,
    path: req.url,
    headers: req.rawHeaders as unknown as http.OutgoingHttpHeaders,
    agent,
  }, (answer) => {
    if (!options.rewrite || answer.statusCode !== 200) {
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.rawHeaders);
      answer.pipe(res);
      return;
    }
    const chunks: Buffer[] = [];
    answer.on('data', (c: Buffer) => chunks.push(c));
    answer.on('error', fail);
    answer.on('end', () => {
      let body: Buffer;
      try {
        body = Buffer.from(JSON.stringify(options.rewrite!(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>)));
      } catch {
        body = Buffer.concat(chunks);
      }
      const headers: string[] = [];
      for (let i = 0; i < answer.rawHeaders.length; i += 2) {
        const name = answer.rawHeaders[i]!.toLowerCase();
        if (name === 'x-amz-crc32' || name === 'content-length' || name === 'transfer-encoding') continue;
        headers.push(answer.rawHeaders[i]!, answer.rawHeaders[i + 1]!);
      }
      headers.push('Content-Length', String(body.length));
      res.writeHead(200, answer.statusMessage, headers);
      res.end(body);
    });
  });
  proxied.on('error', fail);
  if (options.body) proxied.end(options.body);
  else req.pipe(proxied);
}
