// AWS clients configured from the SDK's own environment conventions
// (the region chain, AWS_ENDPOINT_URL_S3, credentials chain): S3's here, the
// DynamoDB and CloudWatch Logs clients in aws-dynamodb.ts, so a stage that
// only reads and writes the store (extract, transform) does not load them
// (~75 ms of every such process's start).
import { S3Client, type ServerSideEncryption } from '@aws-sdk/client-s3';
import { UserError } from './errors.ts';
import { awsRetryStrategy, type AwsRetryPolicy } from './retry.ts';

// The SDK warns on every client that Node 20 support ends; this tool targets Node 20
// and keeps stderr for its own one-line messages.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Credentials from `env` when it names them (tests pass the stack's env), else the SDK's default chain. */
function credentials(env: NodeJS.ProcessEnv) {
  return env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
    ? { credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) } }
    : {};
}

/** A URL whose host is this machine: localhost, 127.0.0.0/8 or ::1 (never a name that merely starts so). */
export function isLoopbackEndpoint(url: string | undefined): boolean {
  if (!url) return false;
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return host === 'localhost' || host.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(host) || host === '[::1]';
}

// One retry layer: the SDK's retry step, running lib/retry's strategy, is the
// only place a failed AWS call is tried again (no retry() around a send), so
// the attempts a result reports ($metadata.attempts) are all there were. The
// SDK's step, not `maxAttempts: 1` and retry() around each call, because only
// it sees every request: lib-storage's Upload sends its parts itself, and a
// call with a streamed body must not be resent (the step knows to stop).
//
// Patience no shorter than before, when the SDK's StandardRetryStrategy
// (8 attempts; waits up to min(20 s, base·2ⁿ), base 1 s when throttled, else
// 25 ms for DynamoDB and 50 ms for S3) ran under retry() (base 50 ms, cap 5 s)
// with 15 attempts per BatchWriteItem batch and 10 per Scan/Query/GetItem page.
// Longest total wait before giving up, throttled: a batch 41.35 + 15 × 71 =
// 1,106 s; a page 16.35 + 10 × 71 = 726 s; any other call 71 s. Otherwise
// (5xx, resets, timeouts): a batch 41.35 + 15 × 3.175 = 89 s, S3 6.35 s.
// retry.test.ts recomputes these against the policies below.

/** DynamoDB: throttled up to 31 + 54 × 20 = 1,111 s of waits; otherwise 25.55 + 4 × 20 = 105.55 s. */
export const DYNAMODB_RETRY: AwsRetryPolicy = {
  throttling: { attempts: 60, baseMs: 1_000, capMs: 20_000 },
  transient: { attempts: 14, baseMs: 50, capMs: 20_000 },
};

/** S3 and CloudWatch Logs: the SDK's own patience at 8 attempts (71 s throttled, 6.35 s otherwise). */
export const S3_RETRY: AwsRetryPolicy = {
  throttling: { attempts: 8, baseMs: 1_000, capMs: 20_000 },
  transient: { attempts: 8, baseMs: 50, capMs: 20_000 },
};

/**
 * Client settings that make `policy` the client's only retrying (maxAttempts only labels each
 * request's attempt header). A retry said while waiting names `service` and a set endpoint
 * (its origin alone: never a user or password a URL may carry), so a wrong one is seen.
 */
function retrySettings(policy: AwsRetryPolicy, service: string, endpoint: string | undefined) {
  let origin: string | undefined;
  try {
    origin = endpoint ? new URL(endpoint).origin : undefined;
  } catch { /* the SDK refuses it itself */ }
  return {
    retryStrategy: awsRetryStrategy(policy, { service: origin ? `${service} (${origin})` : service }),
    maxAttempts: Math.max(policy.throttling.attempts, policy.transient.attempts),
  };
}

const regions = new WeakMap<NodeJS.ProcessEnv, Promise<string>>();

/**
 * The region: `env`'s AWS_REGION (tests pass the stack's env), else the SDK's
 * own chain (AWS_REGION, then `region` of the profile in ~/.aws/config), else
 * AWS_DEFAULT_REGION (the AWS CLI's variable, which the JavaScript SDK does
 * not read). None of them: an error, never a silent us-east-1 (a table made in
 * the wrong region is a migration into the wrong place).
 */
export function awsRegion(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  let region = regions.get(env);
  if (!region) {
    region = (async () => {
      if (env.AWS_REGION) return env.AWS_REGION;
      // Any client resolves the region through the same chain.
      const probe = new S3Client({});
      try {
        return await probe.config.region();
      } catch {
        if (env.AWS_DEFAULT_REGION) return env.AWS_DEFAULT_REGION;
        throw new UserError('no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or region in your AWS profile, ~/.aws/config), e.g. export AWS_REGION=eu-west-1');
      } finally {
        probe.destroy();
      }
    })();
    regions.set(env, region);
  }
  return region;
}

/**
 * What every client of this toolkit is given (S3's here, DynamoDB's and
 * CloudWatch Logs' in aws-dynamodb.ts): the region chain, `endpoint` when set,
 * `env`'s credentials, and `policy` as its only retrying, said as `service`.
 */
export function clientSettings(env: NodeJS.ProcessEnv, endpoint: string | undefined, policy: AwsRetryPolicy, service: string) {
  return {
    region: () => awsRegion(env),
    ...(endpoint ? { endpoint } : {}),
    ...credentials(env),
    ...retrySettings(policy, service, endpoint),
    requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS, socketTimeout: socketTimeoutMs(env) },
  };
}

/** A connection not made within this fails (and is retried) instead of waiting for the OS's minutes. */
const CONNECTION_TIMEOUT_MS = 10_000;

/**
 * A socket silent this long fails its request: before the response, the retry
 * strategy tries again; mid-body, S3 reads resume (lib/s3-body.ts). The SDK
 * sets none, so a stalled connection hung a stage for good. 60 s, or
 * SOCKET_TIMEOUT seconds.
 */
export function socketTimeoutMs(env: NodeJS.ProcessEnv): number {
  const text = env.SOCKET_TIMEOUT;
  if (text === undefined || text === '') return 60_000;
  // At least 1 ms (0 is no timeout to the SDK); at most 2^31-1 ms, past which Node
  // truncates the timer and warns on stderr at every request.
  const ms = Math.round(Number(text) * 1000);
  if (!(ms >= 1 && ms <= 2_147_483_647)) throw new UserError(`invalid SOCKET_TIMEOUT=${JSON.stringify(text)}: use a number of seconds from 0.001 to 2147483`, 2);
  return ms;
}

export function s3Client(env: NodeJS.ProcessEnv = process.env, retry: AwsRetryPolicy = S3_RETRY): S3Client {
  const endpoint = env.AWS_ENDPOINT_URL_S3;
  const local = isLoopbackEndpoint(endpoint);
  return new S3Client({
    ...clientSettings(env, endpoint, retry, 'S3'),
    // Local S3 servers (s3rver) serve buckets by path only.
    forcePathStyle: local || env.AWS_S3_FORCE_PATH_STYLE === 'true',
    // Local servers would otherwise store aws-chunked framing inside streamed objects.
    ...(local ? { requestChecksumCalculation: 'WHEN_REQUIRED' as const, responseChecksumValidation: 'WHEN_REQUIRED' as const } : {}),
  });
}

/** How S3 is asked to encrypt each object a stage writes: PutObject and CreateMultipartUpload parameters. */
export interface S3Encryption {
  ServerSideEncryption?: ServerSideEncryption;
  SSEKMSKeyId?: string;
}

const SSE_ALGORITHMS: readonly string[] = ['aws:kms', 'aws:kms:dsse', 'AES256'];

/**
 * S3_SSE (`aws:kms`, `aws:kms:dsse` or `AES256`) and S3_SSE_KMS_KEY_ID (a KMS key id,
 * ARN or alias; alone it means aws:kms). Neither set: the bucket's default
 * encryption applies, which S3 makes at least SSE-S3 (AES256) since January 2023.
 */
export function s3Encryption(env: NodeJS.ProcessEnv = process.env): S3Encryption {
  const algorithm = env.S3_SSE || undefined;
  const keyId = env.S3_SSE_KMS_KEY_ID || undefined;
  if (!algorithm && !keyId) return {};
  if (algorithm && !SSE_ALGORITHMS.includes(algorithm)) {
    throw new UserError(`invalid S3_SSE=${JSON.stringify(algorithm)}: use aws:kms (with S3_SSE_KMS_KEY_ID), aws:kms:dsse or AES256`);
  }
  if (keyId && algorithm === 'AES256') {
    throw new UserError('S3_SSE=AES256 (SSE-S3) takes no KMS key: unset S3_SSE_KMS_KEY_ID, or set S3_SSE=aws:kms');
  }
  return { ServerSideEncryption: (algorithm ?? 'aws:kms') as ServerSideEncryption, ...(keyId ? { SSEKMSKeyId: keyId } : {}) };
}
