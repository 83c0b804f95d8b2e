// up, down and status of the local stack in one STACK_DIR. The files there are
// the stack's catalog: <svc>.pid (a pgid), env (written last: the stack is
// complete), owner.pid (the `run` that will take it down). A restart reads
// them and never guesses from leftovers: a group is alive only if /proc says
// so and it carries this dir's marker.
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { loadFixtureDatabase } from '../../fixtures/load.ts';
import { UserError, errorMessage } from '../../lib/errors.ts';
import { progressLine, type Logger } from '../../lib/log.ts';
import { redact } from '../../lib/postgres.ts';
import { startDynamoDb } from './dynamodb.ts';
import { startImportEndpoint } from './import-endpoint.ts';
import { readEnvFile, writeEnvFile, type StackEnv } from './env-file.ts';
import type { ServiceName, StackPaths } from './paths.ts';
import { createDatabase, databaseOf, dropDatabase, fixtureDatabaseName, startEmbeddedPostgres, useExternalPostgres } from './postgres.ts';
import { isSameProcessAlive, liveServiceGroup, logTail, processIdentity, stopGroup } from './process-group.ts';
import { BUCKET, S3RVER_CREDENTIALS, startS3rver } from './s3.ts';

const SERVICES: ServiceName[] = ['postgres', 's3', 'dynamodb', 'import-endpoint'];
/** SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for every client to leave. */
const STOP_SIGNAL: Record<ServiceName, NodeJS.Signals> = { postgres: 'SIGINT', s3: 'SIGTERM', dynamodb: 'SIGTERM', 'import-endpoint': 'SIGTERM' };

type TableRows = Awaited<ReturnType<typeof loadFixtureDatabase>>;

/** SCALE from the environment: unset means the small fixture. */
function scaleFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  if (!env.SCALE) return undefined;
  const scale = Number(env.SCALE);
  if (!Number.isFinite(scale) || scale < 0) throw new UserError(`invalid SCALE=${JSON.stringify(env.SCALE)}: use a number >= 0`);
  return scale;
}

export interface StackState {
  env: StackEnv | undefined;
  services: Record<ServiceName, number | undefined>;
  expected: ServiceName[];
  /** The `run` process that owns the stack, when one does. */
  owner: { identity: string; alive: boolean } | undefined;
  up: boolean;
}

export function inspectStack(paths: StackPaths): StackState {
  const env = readEnvFile(paths.envFile);
  const services = Object.fromEntries(SERVICES.map((s) => [s, liveServiceGroup(paths, s)])) as Record<ServiceName, number | undefined>;
  const expected = SERVICES.filter((s) => !(s === 'postgres' && env?.PG_EXTERNAL === '1'));
  let owner: StackState['owner'];
  try {
    const identity = fs.readFileSync(paths.ownerFile, 'utf8').trim();
    owner = { identity, alive: isSameProcessAlive(identity) };
  } catch { /* started by `up`: nobody will take it down but `down` */ }
  const up = !!env && expected.every((s) => services[s] !== undefined) && (!owner || owner.alive);
  return { env, services, expected, owner, up };
}

/** One `up` or `down` at a time per stack dir; a lock left by a dead process is taken over. */
async function withLock<T>(paths: StackPaths, log: Logger, work: () => Promise<T>): Promise<T> {
  fs.mkdirSync(paths.dir, { recursive: true });
  const me = processIdentity(process.pid)!;
  let waitingSince: number | undefined;
  for (;;) {
    try {
      fs.writeFileSync(paths.lockFile, me, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = fs.readFileSync(paths.lockFile, 'utf8').trim();
    if (!holder || !isSameProcessAlive(holder)) {
      fs.rmSync(paths.lockFile, { force: true });
      continue;
    }
    if (waitingSince === undefined) {
      waitingSince = Date.now();
      log(`waiting for process ${holder.split(' ')[0]}, which is starting or stopping the stack in ${paths.dir}`);
    }
    if (Date.now() - waitingSince > 120_000) throw new UserError(`the stack in ${paths.dir} stayed locked by process ${holder.split(' ')[0]} for 2 minutes`);
    await sleep(100);
  }
  try {
    return await work();
  } finally {
    fs.rmSync(paths.lockFile, { force: true });
  }
}

export interface UpResult {
  env: StackEnv;
  /** False when the stack was already up: the caller must not take it down. */
  started: boolean;
}

export async function up(paths: StackPaths, log: Logger, opts: { owned?: boolean } = {}): Promise<UpResult> {
  return withLock(paths, log, async () => {
    const state = inspectStack(paths);
    if (state.up) {
      if (opts.owned && state.owner) {
        throw new UserError(`the stack in ${paths.dir} is in use by \`run\` (pid ${state.owner.identity.split(' ')[0]}): give this run its own STACK_DIR`);
      }
      const requestedExternal = process.env.PG_URL ? '1' : '0';
      if (state.env!.PG_EXTERNAL !== requestedExternal) {
        log(`warning: already up with ${requestedExternal === '1' ? 'the embedded PostgreSQL' : 'PG_URL\'s PostgreSQL'}; run \`down\` first to switch`);
      }
      // SCALE asks for other data than the stack holds: keeping the old data silently would mislead a bench or a demo.
      const scale = scaleFromEnv();
      if (scale !== undefined && String(scale) !== (state.env!.FIXTURE_SCALE ?? '')) {
        const holds = state.env!.FIXTURE_SCALE ? `SCALE=${state.env!.FIXTURE_SCALE} data` : 'the small fixture';
        throw new UserError(`the stack in ${paths.dir} is already up with ${holds}, not SCALE=${scale}: run \`make down\`, then \`make up SCALE=${scale}\` to load it`);
      }
      await printSummary(paths, state.env!, log, 'already up');
      return { env: state.env!, started: false };
    }
    // A live `run` owns this stack and one of its services died: restarting
    // would swap every port under that run's command (a test suite), so say
    // what died instead.
    if (state.env && state.owner?.alive) throw new UserError(stoppedServices(paths, state));
    // A leftover fixture database on a PG_URL server is dropped by createDatabase().
    await teardown(paths, log, state);
    if (opts.owned) fs.writeFileSync(paths.ownerFile, processIdentity(process.pid)!);
    try {
      const env = await startServices(paths, log);
      writeEnvFile(paths.envFile, env);
      return { env, started: true };
    } catch (err) {
      log('start failed: stopping what did start');
      await teardown(paths, log, inspectStack(paths), process.env.PG_URL);
      throw err;
    }
  });
}

/** Which expected services are no longer running, each with the end of its log. */
export function stoppedServices(paths: StackPaths, state: StackState): string {
  const owner = state.owner ? ` (owned by \`run\`, pid ${state.owner.identity.split(' ')[0]})` : '';
  return state.expected.filter((s) => state.services[s] === undefined)
    .map((s) => `the stack's ${s} in ${paths.dir}${owner} stopped; ${paths.logFile(s)} ends with:\n${logTail(paths.logFile(s))}`)
    .join('\n');
}

async function startServices(paths: StackPaths, log: Logger): Promise<StackEnv> {
  const started = Date.now();
  for (const service of SERVICES) fs.writeFileSync(paths.logFile(service), '');
  // lib/aws.ts takes credentials from the SDK's chain (this process's env): the
  // readiness checks must sign with s3rver's.
  Object.assign(process.env, S3RVER_CREDENTIALS);
  const scale = scaleFromEnv();

  const postgres = (async () => {
    const server = process.env.PG_URL ? await useExternalPostgres(process.env.PG_URL) : await startEmbeddedPostgres(paths);
    const databaseUrl = await createDatabase(server.adminUrl, fixtureDatabaseName(server.external, paths.dir));
    const tables = await loadFixtureDatabase(databaseUrl, {
      scale,
      onProgress: (table, rows) => progressLine.set(`loading fixtures: ${table} ${rows} rows`),
    });
    progressLine.done();
    return { server, databaseUrl, tables };
  })();
  const s3 = startS3rver(paths);
  const dynamodb = startDynamoDb(paths);
  // The import endpoint needs both; it starts while PostgreSQL is still loading.
  const importEndpoint = Promise.all([s3, dynamodb]).then(([s3Server, ddbServer]) =>
    startImportEndpoint(paths, { dynamoDbLocalUrl: ddbServer.endpoint, s3Endpoint: s3Server.endpoint }));
  // allSettled, not all: on a failure every start must have finished before the teardown looks for pids.
  const [pgResult, s3Result, ddbResult, importResult] = await Promise.allSettled([postgres, s3, dynamodb, importEndpoint]);
  if (pgResult.status === 'rejected' || s3Result.status === 'rejected' || ddbResult.status === 'rejected' || importResult.status === 'rejected') {
    // The import endpoint's start fails with S3's or DynamoDB's reason when one of them failed: said once.
    const own = s3Result.status === 'rejected' || ddbResult.status === 'rejected' ? [] : [importResult];
    const reasons = [pgResult, s3Result, ddbResult, ...own].flatMap((r) => (r.status === 'rejected' ? [redact(errorMessage(r.reason))] : []));
    throw new UserError(reasons.join('\n'));
  }
  const { server, databaseUrl, tables } = pgResult.value;
  const env: StackEnv = {
    DATABASE_URL: databaseUrl,
    PG_ADMIN_URL: server.adminUrl,
    PG_EXTERNAL: server.external ? '1' : '0',
    ...(scale !== undefined ? { FIXTURE_SCALE: String(scale) } : {}),
    AWS_ENDPOINT_URL_S3: s3Result.value.endpoint,
    // DynamoDB through the import endpoint (ImportTable, DescribeImport, ListImports; the rest passed
    // through); DDB_LOCAL_URL is DynamoDB Local itself.
    AWS_ENDPOINT_URL_DYNAMODB: importResult.value.endpoint,
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: importResult.value.endpoint,
    DDB_LOCAL_URL: ddbResult.value.endpoint,
    AWS_REGION: 'us-east-1',
    ...S3RVER_CREDENTIALS,
    S3_BUCKET: BUCKET,
    STORE: `s3://${BUCKET}/runs`,
    DDB_ENGINE: ddbResult.value.engine,
  };
  await printSummary(paths, env, log, `up in ${((Date.now() - started) / 1000).toFixed(1)} s`, {
    tables,
    dynamoVersion: ddbResult.value.version,
  });
  return env;
}

/**
 * Stops every live service group, drops an external fixture database, forgets
 * the stack. Without an env file (a start that failed or crashed) the fixture
 * database is looked for on `leftoverServer`, if given.
 */
async function teardown(paths: StackPaths, log: Logger, state: StackState, leftoverServer?: string): Promise<void> {
  await Promise.all(SERVICES.map(async (service) => {
    const pgid = state.services[service];
    if (pgid !== undefined) {
      const how = await stopGroup(pgid, STOP_SIGNAL[service]);
      if (how === 'killed') log(`${service} (process group ${pgid}) ignored ${STOP_SIGNAL[service]}: killed`);
    }
    fs.rmSync(paths.pidFile(service), { force: true });
  }));
  // An external server outlives the stack: its fixture database must be dropped.
  const adminUrl = state.env ? (state.env.PG_EXTERNAL === '1' ? state.env.PG_ADMIN_URL : undefined) : leftoverServer;
  if (adminUrl) {
    const name = state.env ? databaseOf(state.env.DATABASE_URL!) : fixtureDatabaseName(true, paths.dir);
    await dropDatabase(adminUrl, name).catch((err) => log(`warning: could not drop database ${name}: ${redact(errorMessage(err))}`));
  }
  fs.rmSync(paths.envFile, { force: true });
  fs.rmSync(paths.ownerFile, { force: true });
}

export async function down(paths: StackPaths, log: Logger): Promise<void> {
  if (!fs.existsSync(paths.dir)) return;
  await withLock(paths, log, async () => {
    const started = Date.now();
    const state = inspectStack(paths);
    const running = SERVICES.filter((s) => state.services[s] !== undefined);
    await teardown(paths, log, state, process.env.PG_URL);
    log(running.length > 0
      ? `down in ${((Date.now() - started) / 1000).toFixed(1)} s: stopped ${running.join(', ')}`
      : 'down: nothing was running');
  });
}

export async function status(paths: StackPaths, log: Logger): Promise<boolean> {
  const state = inspectStack(paths);
  for (const service of SERVICES) {
    const pgid = state.services[service];
    const note = pgid !== undefined ? `running (process group ${pgid})` : state.expected.includes(service) ? 'stopped' : 'not used (PG_URL)';
    log(`${service.padEnd(15)} ${note}`);
  }
  if (state.owner) log(`${'owner'.padEnd(15)} run, pid ${state.owner.identity.split(' ')[0]}${state.owner.alive ? '' : ' (dead: the next `up` restarts the stack)'}`);
  if (state.up) await printSummary(paths, state.env!, log, 'up');
  else log(`down (${paths.dir})`);
  return state.up;
}

/** What a person needs: where each service listens and what is in the database. Never the password. */
async function printSummary(
  paths: StackPaths,
  env: StackEnv,
  log: Logger,
  headline: string,
  extra: { tables?: TableRows; dynamoVersion?: string } = {},
): Promise<void> {
  const database = await describeDatabase(env.DATABASE_URL!);
  const tables = extra.tables
    ? `${extra.tables.length} tables, ${extra.tables.reduce((n, t) => n + t.rows, 0)} rows loaded`
    : database.tables !== undefined ? `${database.tables} tables` : 'not answering';
  const hostPort = (url: string) => new URL(url).host;
  log(`${headline}: ${paths.dir}`);
  log(`  postgres  PostgreSQL ${database.version ?? '?'} (${env.PG_EXTERNAL === '1' ? 'PG_URL' : 'embedded'}) on ${hostPort(env.PG_ADMIN_URL!)}, database ${databaseOf(env.DATABASE_URL!)}: ${tables}`);
  log(`  s3        s3rver on ${hostPort(env.AWS_ENDPOINT_URL_S3!)}, bucket ${env.S3_BUCKET}, STORE=${env.STORE}`);
  log(`  dynamodb  ${env.DDB_ENGINE === 'dynalite' ? 'dynalite' : 'DynamoDB Local'}${extra.dynamoVersion ? ` ${extra.dynamoVersion}` : ''} on ${hostPort(env.DDB_LOCAL_URL ?? env.AWS_ENDPOINT_URL_DYNAMODB!)}`);
  if (env.DDB_LOCAL_URL) log(`  imports   ImportTable + CloudWatch Logs endpoint on ${hostPort(env.AWS_ENDPOINT_URL_DYNAMODB!)} (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS), in front of DynamoDB Local`);
  log(`  env       set -a; . ${paths.envFile}; set +a`);
}

async function describeDatabase(url: string): Promise<{ version?: string; tables?: number }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ version: string; tables: number }>(
      `SELECT current_setting('server_version') AS version,
              (SELECT count(*)::int FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')) AS tables`,
    );
    return rows[0]!;
  } catch {
    return {};
  } finally {
    await client.end().catch(() => {});
  }
}
