// `verify`: proof that the table holds exactly what PostgreSQL held.
// (a) counts per entity_type, (b) every item equal, (c) no strays (verify-items.ts),
// (d) access patterns answer as SQL does (access-patterns.ts). Each check reports
// its numbers and pass/fail; the report goes to `<run>/load/verify.json`.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../lib/aws.ts';
import { runStorage } from '../lib/config.ts';
import { UserError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { readExtractManifest } from '../lib/manifest.ts';
import { connect } from '../lib/postgres.ts';
import { checkAccessPattern, type AccessPattern } from './access-patterns.ts';
import { readLoadableRun } from './item-files.ts';
import { requireLoadedFrom } from './loaded-tables.ts';
import { serenyaAccessPatterns } from './serenya-access-patterns.ts';
import { describeTable } from './table-settings.ts';
import { checkTableName } from './table-spec.ts';
import { compareItems, countCheck, scanKeys, strayCheck, type Check } from './verify-items.ts';

export const VERIFY_REPORT_KEY = 'load/verify.json';

export interface VerifyOptions {
  store: string;
  run: string;
  tableName: string;
  /** Only these source tables' entities; empty: the whole table. */
  tables?: string[];
  concurrency: number;
  /** Source database for (d); `false` skips the access-pattern checks. */
  databaseUrl: string | undefined | false;
  sampleSize: number;
  patterns?: AccessPattern[];
  log: Logger;
  dynamo?: Pick<DynamoDBClient, 'send'>;
}

export interface VerifyReport {
  format: 'pg2ddb.verify/1';
  run_id: string;
  table_name: string;
  checked_at: string;
  seconds: number;
  ok: boolean;
  /** The source tables a `TABLE=` verify checked; absent: every table. */
  tables?: string[];
  checks: Check[];
}

export async function runVerify(options: VerifyOptions): Promise<VerifyReport> {
  checkTableName(options.tableName);
  const started = Date.now();
  const run = runStorage(options.store, options.run);
  const extract = await readExtractManifest(run);
  if (!extract) throw new UserError(`no extract manifest in ${run.uri}: verify compares the table with run ${options.run}'s extract and transform`);
  const loadable = await readLoadableRun(run, options.run, options.tables, 'verify');
  const client = options.dynamo ?? dynamoClient();
  if (!(await describeTable(client, options.tableName))) throw new UserError(`DynamoDB table ${options.tableName} does not exist: run the load first`);
  await requireLoadedFrom(run, options.run, options.tableName, loadable.tables);
  const only = options.tables && options.tables.length > 0
    ? new Set(loadable.tables.map((t) => t.entity_type).filter((e): e is string => !!e)) : undefined;

  const checks: Check[] = [];
  const record = (check: Check) => {
    checks.push(check);
    const numbers = Object.entries(check.numbers).filter(([k]) => !k.includes('.')).map(([k, v]) => `${k} ${v}`).join(', ');
    options.log(`${check.ok ? 'PASS' : 'FAIL'} ${check.name}: ${numbers}${check.note ? ` (${check.note})` : ''}`);
    for (const f of check.failures) options.log(`  ${JSON.stringify(f)}`);
  };

  options.log(`scanning ${options.tableName} (${options.concurrency} segments)`);
  const tableKeys = await scanKeys(client, options.tableName, options.concurrency);
  options.log(`reading back every item of run ${options.run}`);
  const { check, runKeys, expired } = await compareItems(client, run, options.tableName, loadable.tables, options.concurrency);
  record(countCheck(loadable.tables, tableKeys, expired, only));
  record(check);
  record(strayCheck(tableKeys, runKeys, only));

  if (options.databaseUrl !== false) {
    const present = new Set(loadable.tables.map((t) => t.name));
    const patterns = (options.patterns ?? serenyaAccessPatterns).filter((p) => present.has(p.table));
    if (patterns.length > 0) {
      const db = await connect(options.databaseUrl, 'pg2ddb-verify');
      try {
        for (const pattern of patterns) record(await checkAccessPattern(pattern, db, client, run, options.tableName, options.sampleSize));
      } finally {
        await db.end().catch(() => {});
      }
    }
  }

  const report: VerifyReport = {
    format: 'pg2ddb.verify/1', run_id: options.run, table_name: options.tableName,
    checked_at: new Date().toISOString(), seconds: (Date.now() - started) / 1000,
    ok: checks.every((c) => c.ok),
    ...(only ? { tables: loadable.tables.map((t) => t.name) } : {}),
    checks,
  };
  await run.put(VERIFY_REPORT_KEY, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
