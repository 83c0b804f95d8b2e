// The stack's ImportTable endpoint (scripts/import-endpoint/): in front of
// DynamoDB Local, reading the stack's S3. AWS_ENDPOINT_URL_DYNAMODB and
// AWS_ENDPOINT_URL_CLOUDWATCH_LOGS point at it; DDB_LOCAL_URL stays the direct way in.
import path from 'node:path';
import { listTablesAnswers } from './dynamodb.ts';
import { repoRoot, type StackPaths } from './paths.ts';
import { freePort, logTail, portAcceptsConnections, spawnDetached, waitUntilReady, ServiceExitedError } from './process-group.ts';
import { S3RVER_CREDENTIALS } from './s3.ts';

export interface ImportEndpoint { endpoint: string; port: number }

const SERVER = path.join(repoRoot, 'scripts', 'import-endpoint', 'server.ts');

export async function startImportEndpoint(paths: StackPaths, upstream: { dynamoDbLocalUrl: string; s3Endpoint: string }): Promise<ImportEndpoint> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const child = await spawnDetached(paths, 'import-endpoint', {
      command: process.execPath,
      args: ['--import', 'tsx/esm', SERVER],
      // `--import tsx/esm` resolves from the cwd: the repository's node_modules.
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PORT: String(port),
        DDB_LOCAL_URL: upstream.dynamoDbLocalUrl,
        AWS_ENDPOINT_URL_S3: upstream.s3Endpoint,
        AWS_REGION: 'us-east-1',
        ...S3RVER_CREDENTIALS,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
    });
    try {
      await waitUntilReady(child, 'import endpoint', async () => (await portAcceptsConnections(port)) && listTablesAnswers(endpoint), 20_000);
    } catch (err) {
      if (err instanceof ServiceExitedError && attempt < 3) continue;
      throw new Error(`${(err as Error).message}; ${paths.logFile('import-endpoint')} ends with:\n${logTail(paths.logFile('import-endpoint'))}`);
    }
    return { endpoint, port };
  }
}
