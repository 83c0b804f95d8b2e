// A small HTTP fault-injection proxy for the local stack (issue 5): put it in
// front of S3 or DynamoDB (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_DYNAMODB →
// the proxy) and a share of requests is answered with a fault instead of being
// forwarded: S3's 500 InternalError or 503 SlowDown (XML bodies as S3 sends
// them), DynamoDB's ProvisionedThroughputExceededException or 500 (JSON, as
// DynamoDB sends them), or a connection reset. Two faults break a response
// mid-body instead: `cut` forwards the response's head and the first half of
// its body, then resets the connection; `stall-body` sends the same, then
// nothing more (the client's socket timeout must notice).
//
// Deterministic: request n (counted from 0) is faulted when
// floor((n + 1)·share + phase) > floor(n·share + phase), phase from the seed,
// so a share of 0.25 faults exactly one request in four, whatever the timing;
// the faults used rotate in the order given. With share 0 and `onRequest`, it
// faults nothing and only shows what clients send (S3's encryption headers).
// Bounded: it listens on loopback only, forwards only to a loopback target, and
// caps connections.
//
//   node --import tsx/esm scripts/fault-proxy.ts --target http://127.0.0.1:9000 --share 0.2 --faults s3-503,reset
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault = 's3-500' | 's3-503' | 'ddb-throttle' | 'ddb-500' | 'ddb-validation' | 'reset' | 'stall' | 'cut' | 'stall-body';
export const FAULTS: readonly Fault[] = ['s3-500', 's3-503', 'ddb-throttle', 'ddb-500', 'ddb-validation', 'reset', 'stall', 'cut', 'stall-body'];

export interface FaultProxyOptions {
  /** Where healthy requests go: a loopback http:// URL. */
  target: string;
  /** Share of the eligible requests that are faulted, 0..1 (1: every one). */
  share: number;
  /** The faults to answer with, in rotation. */
  faults: Fault[];
  /** Shifts which requests are faulted (same seed, same requests). */
  seed?: number;
  /** Only requests for which this holds are eligible (default: all); e.g. only part objects, or one DynamoDB operation (x-amz-target). */
  eligible?: (method: string, path: string, headers: http.IncomingHttpHeaders) => boolean;
  /** Sees every request's method, path and headers before it is faulted or forwarded. */
  onRequest?: (request: { method: string; path: string; headers: http.IncomingHttpHeaders }) => void;
  /** Sees every request whole, once its body is read (a DynamoDB request names its table there). */
  onRequestBody?: (request: { method: string; path: string; headers: http.IncomingHttpHeaders; body: Buffer }) => void;
  /** 0: a free port. */
  port?: number;
  maxConnections?: number;
}

export interface FaultProxy {
  url: string;
  /**
   * Requests seen, forwarded and faulted (by fault), and the paths faulted. `brokenMidBody` counts the
   * `cut` and `stall-body` responses whose head and half body reached a client still connected: one the
   * client had given up on first (its socket timed out waiting on a slow server) broke nothing it read.
   */
  stats: { requests: number; forwarded: number; faulted: Record<Fault, number>; faultedPaths: string[]; brokenMidBody: number };
  close(): Promise<void>;
}

const isLoopback = (host: string) => /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(host);

function s3Error(status: number, code: string, message: string, path: string): { status: number; headers: Record<string, string>; body: string } {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><Resource>${path.replace(/[<>&]/g, '')}</Resource><RequestId>FAULTPROXY</RequestId></Error>`;
  return { status, headers: { 'content-type': 'application/xml', 'x-amz-request-id': 'FAULTPROXY' }, body };
}

function ddbError(status: number, type: string, message: string): { status: number; headers: Record<string, string>; body: string } {
  const body = JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message });
  return { status, headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'FAULTPROXY' }, body };
}

function answer(fault: Exclude<Fault, 'reset' | 'stall' | 'cut' | 'stall-body'>, path: string) {
  switch (fault) {
    case 's3-500': return s3Error(500, 'InternalError', 'We encountered an internal error. Please try again.', path);
    case 's3-503': return s3Error(503, 'SlowDown', 'Please reduce your request rate.', path);
    case 'ddb-throttle': return ddbError(400, 'ProvisionedThroughputExceededException', 'The level of configured provisioned throughput for the table was exceeded.');
    case 'ddb-500': return ddbError(500, 'InternalServerError', 'Internal server error');
    case 'ddb-validation': return ddbError(400, 'ValidationException', 'One or more parameter values were invalid: an item failed validation (fault proxy)');
  }
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  if (target.protocol !== 'http:' || !isLoopback(target.hostname)) {
    throw new Error(`fault proxy target must be a loopback http:// URL, not ${options.target}`);
  }
  if (!(options.share >= 0 && options.share <= 1)) throw new Error(`fault share must be within 0..1, not ${options.share}`);
  if ((options.faults.length === 0 && options.share > 0) || options.faults.some((f) => !FAULTS.includes(f))) {
    throw new Error(`faults must be some of ${FAULTS.join(', ')}`);
  }
  // The golden ratio spreads seeds evenly over [0, 1).
  const phase = ((options.seed ?? 0) * 0.6180339887498949) % 1;
  const stats: FaultProxy['stats'] = {
    requests: 0, forwarded: 0, faulted: Object.fromEntries(FAULTS.map((f) => [f, 0])) as Record<Fault, number>, faultedPaths: [], brokenMidBody: 0,
  };
  let eligibleCount = 0;
  let faultCount = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const sockets = new Set<Socket>();

  const server = http.createServer((req, res) => {
    stats.requests++;
    const path = req.url ?? '/';
    options.onRequest?.({ method: req.method ?? 'GET', path, headers: req.headers });
    if (options.onRequestBody) {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => options.onRequestBody!({ method: req.method ?? 'GET', path, headers: req.headers, body: Buffer.concat(chunks) }));
    }
    let fault: Fault | undefined;
    if (options.eligible?.(req.method ?? 'GET', path, req.headers) ?? true) {
      const n = eligibleCount++;
      if (Math.floor((n + 1) * options.share + phase) > Math.floor(n * options.share + phase)) {
        fault = options.faults[faultCount++ % options.faults.length]!;
      }
    }
    const forward = (onResponse: (up: http.IncomingMessage) => void) => {
      const upstream = http.request({
        agent, host: target.hostname, port: target.port || 80, method: req.method, path, headers: req.headers,
      }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        onResponse(up);
      });
      upstream.on('error', () => { res.destroy(); });
      req.pipe(upstream);
    };
    if (fault === 'cut' || fault === 'stall-body') {
      stats.faulted[fault]++;
      if (stats.faultedPaths.length < 1000) stats.faultedPaths.push(`${req.method} ${path}`);
      forward((up) => {
        // A reset once the half is on its way; a stall keeps the socket open and silent (close() destroys it).
        const broken = () => {
          if (!req.socket.destroyed) stats.brokenMidBody++;
          up.destroy();
          if (fault === 'cut') setTimeout(() => req.socket.resetAndDestroy(), 20);
        };
        let left = Math.floor(Number(up.headers['content-length'] ?? 0) / 2);
        if (left <= 0) return broken();
        up.on('data', (chunk: Buffer) => {
          if (left <= 0) return;
          const slice = chunk.subarray(0, left);
          left -= slice.length;
          res.write(slice);
          if (left <= 0) broken();
        });
      });
      return;
    }
    if (fault) {
      stats.faulted[fault]++;
      if (stats.faultedPaths.length < 1000) stats.faultedPaths.push(`${req.method} ${path}`);
      // Read the whole request first, as a server that failed it would have.
      req.resume();
      req.on('end', () => {
        if (fault === 'reset') {
          req.socket.resetAndDestroy();
          return;
        }
        if (fault === 'stall') return; // close() destroys the socket
        const out = answer(fault, path);
        res.writeHead(out.status, { ...out.headers, 'content-length': Buffer.byteLength(out.body) });
        res.end(out.body);
      });
      return;
    }
    stats.forwarded++;
    forward((up) => up.pipe(res));
  });
  server.maxConnections = options.maxConnections ?? 128;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const args = process.argv.slice(2);
  const value = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const target = value('target');
  if (!target) {
    process.stderr.write('usage: fault-proxy.ts --target http://127.0.0.1:PORT [--share 0.2] [--faults s3-503,reset] [--seed 0] [--port 0]\n');
    process.exit(1);
  }
  const proxy = await startFaultProxy({
    target,
    share: Number(value('share') ?? 0.2),
    faults: (value('faults') ?? 's3-503,reset').split(',') as Fault[],
    seed: Number(value('seed') ?? 0),
    port: Number(value('port') ?? 0),
  });
  process.stdout.write(`${proxy.url}\n`);
  const stop = () => { void proxy.close().then(() => process.exit(0)); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
