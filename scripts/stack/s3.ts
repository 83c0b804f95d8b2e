// The stack's S3: s3rver, storing objects as files under $STACK_DIR/s3.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { s3Client } from '../../lib/aws.ts';
import type { StackPaths } from './paths.ts';
import { freePort, logTail, spawnDetached, portAcceptsConnections, waitUntilReady, ServiceExitedError } from './process-group.ts';

export const BUCKET = 'pg2ddb-local';
/** s3rver's fixed credentials. */
export const S3RVER_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

/** s3rver's command line with its delete-versus-put race closed (see the file). */
const s3rverCli = fileURLToPath(new URL('./s3rver.cjs', import.meta.url));

export interface S3Server { endpoint: string; port: number }

async function bucketAnswers(endpoint: string): Promise<boolean> {
  const client = s3Client({ AWS_ENDPOINT_URL_S3: endpoint, AWS_REGION: 'us-east-1' });
  try {
    await client.send(new HeadBucketCommand({ Bucket: BUCKET }), { abortSignal: AbortSignal.timeout(2000) });
    return true;
  } finally {
    client.destroy();
  }
}

export async function startS3rver(paths: StackPaths): Promise<S3Server> {
  fs.rmSync(paths.s3Dir, { recursive: true, force: true });
  fs.mkdirSync(paths.s3Dir, { recursive: true });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const child = await spawnDetached(paths, 's3', {
      command: process.execPath,
      args: [s3rverCli, '--directory', paths.s3Dir, '--address', '127.0.0.1', '--port', String(port), '--configure-bucket', BUCKET, '--silent'],
    });
    try {
      await waitUntilReady(child, 's3rver', async () => (await portAcceptsConnections(port)) && bucketAnswers(endpoint), 20_000);
    } catch (err) {
      if (err instanceof ServiceExitedError && attempt < 3) continue;
      throw new Error(`${(err as Error).message}; ${paths.logFile('s3')} ends with:\n${logTail(paths.logFile('s3'))}`);
    }
    return { endpoint, port };
  }
}
