import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DYNAMODB_RETRY, S3_RETRY, socketTimeoutMs } from './aws.ts';
import { dynamoClient } from './aws-dynamodb.ts';
import { attemptsOf, backoffDelay, type RetryPolicy } from './retry.ts';

/** The longest total wait of a policy before it gives up: every backoff at its bound. */
const longest = (policy: RetryPolicy) => Array.from({ length: policy.attempts - 1 }, (_, n) => backoffDelay(n, { ...policy, random: () => 1 })).reduce((a, b) => a + b, 0);

test('one retry layer is at least as patient as the two stacked before it', (t) => {
  // Before: the SDK's StandardRetryStrategy at maxAttempts 8 (base 1 s throttled; else 25 ms DynamoDB, 50 ms S3; cap 20 s)
  // under retry() with base 50 ms, cap 5 s: 15 attempts per BatchWriteItem batch, 10 per Scan/Query/GetItem page.
  const sdk = (baseMs: number) => longest({ attempts: 8, baseMs, capMs: 20_000 });
  const outer = (attempts: number) => longest({ attempts, baseMs: 50, capMs: 5_000 });
  t.is(sdk(1_000), 71_000);
  t.is(outer(15) + 15 * sdk(1_000), 1_106_350);
  t.true(longest(DYNAMODB_RETRY.throttling) >= outer(15) + 15 * sdk(1_000), 'a throttled batch');
  t.true(longest(DYNAMODB_RETRY.throttling) >= outer(10) + 10 * sdk(1_000), 'a throttled page');
  t.true(longest(DYNAMODB_RETRY.transient) >= outer(15) + 15 * sdk(25), 'a batch meeting 5xx or resets');
  t.true(longest(S3_RETRY.throttling) >= sdk(1_000));
  t.true(longest(S3_RETRY.transient) >= sdk(50));
});

/** A DynamoDB endpoint that answers each request with the next of `answers` (then 200 with no tables). */
async function endpoint(t: { teardown: (f: () => void) => void }, answers: ('throttle' | 'too-large' | 'reset' | '500')[]) {
  let requests = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const answer = answers[requests++];
      if (answer === 'reset') return req.socket.destroy();
      const [status, body] = answer === 'throttle' ? [400, { __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException', message: 'slow down' }]
        : answer === 'too-large' ? [413, { __type: 'RequestEntityTooLarge', message: 'too large' }]
          : answer === '500' ? [500, { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'oops' }]
            : [200, { TableNames: [] }];
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const env = { AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };
  // Waits of 0 ms: the same strategy and attempt counts, without the time.
  const client = dynamoClient(env, { throttling: { attempts: 4, baseMs: 0 }, transient: { attempts: 4, baseMs: 0 }, noticeAfterMs: 0 });
  t.teardown(() => client.destroy());
  return { client, requests: () => requests };
}

test('throttling, 5xx and connection resets are retried by the client, and the result counts every attempt', async (t) => {
  const { client, requests } = await endpoint(t, ['throttle', '500', 'reset']);
  const out = await client.send(new ListTablesCommand({}));
  t.is(requests(), 4);
  t.is(attemptsOf(out), 4);
});

test('a client error (HTTP 413) is not retried; attempts run out at the policy, and the error counts them', async (t) => {
  const tooLarge = await endpoint(t, ['too-large']);
  const refused = await t.throwsAsync(tooLarge.client.send(new ListTablesCommand({})));
  t.is(tooLarge.requests(), 1);
  t.is(attemptsOf(refused), 1);

  const throttled = await endpoint(t, ['throttle', 'throttle', 'throttle', 'throttle', 'throttle']);
  const err = await t.throwsAsync(throttled.client.send(new ListTablesCommand({})));
  t.is(err?.name, 'ProvisionedThroughputExceededException');
  t.is(throttled.requests(), 4);
  t.is(attemptsOf(err), 4);
});

test('a retry said while waiting names the service and its endpoint', async (t) => {
  const { client } = await endpoint(t, ['500', '500', '500']);
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => { lines.push(String(chunk)); return true; }) as typeof process.stderr.write;
  try {
    await client.send(new ListTablesCommand({}));
  } finally {
    process.stderr.write = write;
  }
  const endpointUrl = String(await client.config.endpoint?.().then((e) => `${e.protocol}//${e.hostname}:${e.port}`));
  // This client's lines only: the other tests' clients run at the same time.
  const own = lines.filter((line) => line.includes(endpointUrl));
  t.is(own.length, 3, lines.join(''));
  t.true(own[2]!.includes(`DynamoDB (${endpointUrl}) call attempt 3 of 4 failed (HTTP 500 InternalServerError)`), own[2]);
});

test('extract and transform do not load the DynamoDB or CloudWatch Logs clients (lib/aws-dynamodb.ts): ~180 KB compiled at every start', async (t) => {
  const { build } = await import('esbuild');
  const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
  for (const stage of ['extract', 'transform']) {
    const { metafile } = await build({
      entryPoints: [path.join(root, stage, 'cli.ts')], bundle: true, platform: 'node', format: 'esm', write: false, metafile: true, logLevel: 'silent',
      outdir: path.join(root, '.local', 'aws-test-out'),
    });
    const inputs = Object.keys(metafile.inputs);
    t.true(inputs.some((f) => f.includes('@aws-sdk/client-s3/')), `${stage} bundles the S3 client`);
    t.deepEqual(inputs.filter((f) => /@aws-sdk\/client-(dynamodb|cloudwatch-logs)\//.test(f)), [], `${stage} bundles no DynamoDB or CloudWatch Logs client`);
  }
});

test('SOCKET_TIMEOUT: 60 s unless set; 0.001 to 2147483 seconds (what a socket timer holds), or a usage error naming it', (t) => {
  t.is(socketTimeoutMs({}), 60_000);
  t.is(socketTimeoutMs({ SOCKET_TIMEOUT: '' }), 60_000);
  t.is(socketTimeoutMs({ SOCKET_TIMEOUT: '1.5' }), 1_500);
  // 0.0001 s rounds to 0 ms, which the SDK takes for no timeout at all; past 2^31-1 ms Node
  // truncates the timer and warns on stderr at every request.
  t.is(socketTimeoutMs({ SOCKET_TIMEOUT: '0.001' }), 1);
  t.is(socketTimeoutMs({ SOCKET_TIMEOUT: '2147483' }), 2_147_483_000);
  for (const bad of ['0', '-1', 'abc', 'Infinity', '0.0001', '2147484', '1e7']) {
    const err = t.throws(() => socketTimeoutMs({ SOCKET_TIMEOUT: bad }));
    t.is(err?.message, `invalid SOCKET_TIMEOUT=${JSON.stringify(bad)}: use a number of seconds from 0.001 to 2147483`);
  }
});
