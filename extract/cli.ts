// `extract`: parses arguments and runs the stage; the work lives in extract.ts.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { checkConcurrency, checkGzipLevel, commonOptions, parseCli, runStorage } from '../lib/config.ts';
import { appendRunReport } from '../lib/run-report.ts';
import { UserError } from '../lib/errors.ts';
import { logger, runCli } from '../lib/log.ts';
import { runExtract } from './extract.ts';

const usage = `extract: COPY every PostgreSQL table, from one consistent snapshot, to gzip CSV files

Usage: extract [options]

Writes <store>/<run>/extract/<table>/part-00000.csv.gz and <store>/<run>/extract/manifest.json.
The database comes from $DATABASE_URL, else libpq's PG* variables (PGHOST, PGUSER, ...);
it is only read, in one REPEATABLE READ, READ ONLY transaction. For TLS, add
sslmode=verify-full&sslrootcert=<CA bundle file> to DATABASE_URL (or set PGSSLMODE and
PGSSLROOTCERT). S3_SSE_KMS_KEY_ID=<key> (or S3_SSE=aws:kms|AES256) asks S3 to encrypt
every object written. A JSON summary goes to stdout; progress and errors go to stderr.`;

await runCli('extract', async () => {
  const args = await parseCli(commonOptions(yargs(hideBin(process.argv)).usage(usage))
    .option('schema', {
      type: 'string',
      array: true,
      default: (process.env.SCHEMAS || 'public').split(','),
      defaultDescription: '$SCHEMAS or public',
      describe: 'Schemas whose tables are extracted (repeatable)',
    })
    .option('gzip-level', { type: 'number', default: 1, describe: 'gzip level 0-9 (1 is fastest; level changes bytes, not content)' })
    .option('split-rows', {
      type: 'number',
      // Parts of ~250k rows keep every core busy in transform and make ImportTable files of a few hundred MB.
      default: Number(process.env.SPLIT_ROWS || 250_000),
      defaultDescription: '$SPLIT_ROWS or 250000',
      describe: 'Copy tables of more rows than this as several primary-key ranges of about this many rows (parallel parts)',
    })
    .option('quiet', { type: 'boolean', default: false, describe: 'No progress lines on stderr' })
    .example('extract --store s3://my-bucket/migrations --run 2026-11-28', 'the whole database into S3')
    .example('TABLE=users extract', 'redo one table in the current run'), 'extract');

  const gzipLevel = checkGzipLevel(args['gzip-level']);
  const splitRows = args['split-rows'];
  if (splitRows !== undefined && (!Number.isInteger(splitRows) || splitRows < 1)) throw new UserError(`invalid --split-rows ${splitRows}: use a whole number of rows`);
  const summary = await runExtract({
    splitRows,
    databaseUrl: process.env.DATABASE_URL || undefined,
    store: args.store,
    run: args.run,
    tables: args.table?.filter((t) => t !== ''),
    concurrency: checkConcurrency(args.concurrency),
    schemas: args.schema,
    gzipLevel,
    log: args.quiet ? () => {} : logger('extract'),
  });
  await appendRunReport(runStorage(args.store, args.run), args.run, {
    stage: 'extract',
    seconds: summary.seconds,
    ok: true,
    ...(args.table?.some((t) => t !== '') ? { tables_selected: args.table.filter((t) => t !== '') } : {}),
    totals: { tables: summary.tables.length, rows: summary.rows, csv_bytes: summary.raw_bytes, gzip_bytes: summary.bytes },
    tables: Object.fromEntries(summary.tables.map((t) => [t.name, { rows: t.rows, csv_bytes: t.raw_bytes, gzip_bytes: t.bytes, seconds: t.seconds }])),
    warnings: [],
  });
  process.stdout.write(`${JSON.stringify(summary)}\n`);
});
