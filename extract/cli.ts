// `extract`: parses arguments and runs the stage; the work lives in extract.ts.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { checkCompression, type Compression } from '../lib/compression.ts';
import { checkConcurrency, checkGzipLevel, commonOptions, numberText, parseCli, runStorage } from '../lib/config.ts';
import { storeTimeoutOption } from '../lib/store-check.ts';
import { appendRunReport } from '../lib/run-report.ts';
import { UserError } from '../lib/errors.ts';
import { Progress, exitOnInterrupt, formatBytes, logger, runCli } from '../lib/log.ts';
import { emitDryRun, emitResult, jsonOption, makeCommand, seconds } from '../lib/output.ts';
import { describeExtractDryRun, dryRunExtract } from './dry-run.ts';
import { parseShard } from '../lib/shard.ts';
import { DEFAULT_LOCK_WAIT_SECONDS } from './table-locks.ts';
import { DEFAULT_SPLIT_BYTES, parseByteSize } from './split.ts';
import { finalizeExtract, holdSnapshot, runExtract, runShard, type ExtractOptions, type ExtractSummary } from './extract.ts';

const usage = `extract: COPY every PostgreSQL table, from one consistent snapshot, to gzip CSV files

Usage:    extract [options]                          snapshot, copy every table, manifest
Sharded:  extract snapshot --hold [options]          hold the snapshot, write extract/plan.json
Shard:    extract --shard i/n [--snapshot id] [...]  copy shard i's share of the plan's parts
Finalize: extract finalize [options]                 merge the shards' fragments into the manifest

Writes <store>/<run>/extract/<table>/part-00000.csv.gz (.csv.zst, .csv with COMPRESSION) and <store>/<run>/extract/manifest.json.
The database comes from $DATABASE_URL, else libpq's PG* variables (PGHOST, PGUSER, ...);
it is only read, in one REPEATABLE READ, READ ONLY transaction, which holds ACCESS SHARE
locks on the tables it copies until the extract ends (TRUNCATE and ALTER TABLE wait for it). For TLS, add
sslmode=verify-full&sslrootcert=<CA bundle file> to DATABASE_URL (or set PGSSLMODE and
PGSSLROOTCERT). S3_SSE_KMS_KEY_ID=<key> (or S3_SSE=aws:kms|AES256) asks S3 to encrypt
every object written. --dry-run lists the tables, rows and parts and writes nothing. The result
goes to stdout as one JSON document (--json, or whenever stdout is not a terminal); progress,
errors and, on a terminal, a summary with the next step go to stderr.

Sharded (several machines, one snapshot): start the coordinator, which keeps the snapshot's
transaction open and writes the plan of every part, until it gets SIGINT/SIGTERM; run shard
i of n anywhere with the same --store/--run (each copies a byte-balanced share of the parts
and writes extract/shards/shard-000i-of-000n.json); a failed shard is rerun alone; then
finalize, and stop the coordinator. Shards take --split-rows, --split-bytes, --compression and --gzip-level from the plan.
The manifest equals an unsharded run's on the same snapshot.`;

await runCli('extract', async () => {
  const args = await parseCli(storeTimeoutOption(jsonOption(commonOptions(yargs(hideBin(process.argv)).usage(usage))))
    .option('schema', {
      type: 'string',
      array: true,
      default: (process.env.SCHEMAS || 'public').split(','),
      defaultDescription: '$SCHEMAS or public',
      describe: 'Schemas whose tables are extracted (repeatable)',
    })
    .option('gzip-level', { type: 'string', default: '1', coerce: numberText('gzip-level'), describe: 'gzip level 0-9 (1 is fastest; level changes bytes, not content)' })
    .option('compression', {
      choices: ['gzip', 'zstd', 'none'] as const,
      default: (process.env.COMPRESSION || 'gzip') as Compression,
      defaultDescription: '$COMPRESSION or gzip',
      describe: 'CSV parts: gzip (.csv.gz), zstd (.csv.zst, needs the zstd program; under half of gzip -1\'s CPU) or none (.csv)',
    })
    .option('format', {
      choices: ['csv', 'parquet', 'both'] as const,
      default: (process.env.FORMAT || 'csv') as 'csv' | 'parquet' | 'both',
      defaultDescription: '$FORMAT or csv',
      describe: 'Parts as gzip CSV, as Parquet (part-NNNNN.parquet; PARQUET_COMPRESSION=snappy|gzip, PARQUET_ROW_GROUP_MB=8), or both from the same COPY',
    })
    .option('split-rows', {
      type: 'string',
      // Parts of ~250k rows keep every core busy in transform and make ImportTable files of a few hundred MB.
      default: process.env.SPLIT_ROWS || '250000',
      coerce: numberText('split-rows'),
      defaultDescription: '$SPLIT_ROWS or 250000',
      describe: 'Copy tables of more rows than this as several primary-key ranges of at most this many rows (parallel parts)',
    })
    .option('split-bytes', {
      type: 'string',
      default: process.env.SPLIT_BYTES || `${DEFAULT_SPLIT_BYTES / 1024 / 1024}MiB`,
      coerce: (text: string) => {
        const bytes = parseByteSize(text);
        if (bytes === undefined) throw new UserError(`invalid --split-bytes ${JSON.stringify(String(text))}: use bytes, as 33554432 or 32MiB (0: split by --split-rows alone)`, 2);
        return bytes;
      },
      defaultDescription: `$SPLIT_BYTES or ${DEFAULT_SPLIT_BYTES / 1024 / 1024}MiB`,
      describe: 'Also copy tables larger than this on disk (pg_total_relation_size) as primary-key ranges of about this size each, so transform runs ' +
        'one unit per range on every core; 0: by --split-rows alone. Parts grow when the run would have more than 40,000 (ImportTable reads 50,000 files)',
    })
    .option('lock-wait-timeout', {
      type: 'string',
      default: process.env.LOCK_WAIT_TIMEOUT || String(DEFAULT_LOCK_WAIT_SECONDS),
      coerce: numberText('lock-wait-timeout'),
      defaultDescription: `$LOCK_WAIT_TIMEOUT or ${DEFAULT_LOCK_WAIT_SECONDS}`,
      describe: 'Seconds to wait for a lock another session holds on a table (TRUNCATE, ALTER TABLE…) before failing, naming it',
    })
    .option('follow', {
      type: 'boolean',
      default: ['1', 'true', 'yes'].includes(process.env.FOLLOW ?? ''),
      defaultDescription: '$FOLLOW=1 or off',
      describe: 'Live source: create the run\'s logical replication slot and publication (pg2ddb_<run>) and copy from the slot\'s snapshot, for make catchup',
    })
    .option('quiet', { type: 'boolean', default: false, describe: 'No progress lines on stderr' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'Print the tables, rows and parts an extract would copy (read-only connection) and write nothing' })
    .command('snapshot', 'Coordinator of a sharded extract: hold the snapshot (with --hold) and write the plan')
    .command('finalize', 'Merge the shards\' fragments into extract/manifest.json (every part exactly once)')
    .option('hold', { type: 'boolean', default: false, describe: 'snapshot: keep the snapshot open until SIGINT/SIGTERM' })
    .option('heartbeat', { type: 'number', default: 30, describe: 'snapshot: seconds between checks that the held connection answers (it exits non-zero, naming it, when not)' })
    .option('shard', {
      type: 'string',
      default: process.env.SHARD || undefined,
      defaultDescription: '$SHARD or none',
      describe: "Copy only shard i of n (i/n) of the coordinator's plan",
    })
    .option('snapshot', {
      type: 'string',
      default: process.env.SNAPSHOT || undefined,
      defaultDescription: "$SNAPSHOT or the plan's",
      describe: 'With --shard: the snapshot id the coordinator printed (checked against the plan)',
    })
    .example('extract --store s3://my-bucket/migrations --run 2026-11-28', 'the whole database into S3')
    .example('TABLE=users extract', 'redo one table in the current run')
    .example('extract snapshot --hold & extract --shard 1/2 & extract --shard 2/2; extract finalize', 'a sharded extract'), 'extract');

  const gzipLevel = checkGzipLevel(args['gzip-level']);
  const splitRows = args['split-rows'];
  const splitBytes = args['split-bytes'];
  if (splitRows !== undefined && (!Number.isInteger(splitRows) || splitRows < 1)) throw new UserError(`invalid --split-rows ${splitRows}: use a whole number of rows`, 2);
  const lockWaitSeconds = args['lock-wait-timeout'];
  if (!(lockWaitSeconds > 0)) throw new UserError(`invalid --lock-wait-timeout ${lockWaitSeconds}: use a number of seconds above 0`, 2);
  const command = args._[0];
  const log = args.quiet ? () => {} : logger('extract');
  if (args.follow && (command === 'finalize' || args.shard || args['dry-run'])) throw new UserError('FOLLOW=1 goes with a plain extract or extract snapshot --hold: the slot is created with the run\'s snapshot');
  if (args['dry-run'] && (command !== undefined || args.shard)) throw new UserError('--dry-run goes with a plain extract (no snapshot, finalize or --shard): it shows what one extract would copy');
  if (command === 'finalize') {
    exitOnInterrupt('extract', () => `the shards' parts and fragments are kept and the manifest is written last and whole; rerun ${makeCommand('finalize', args, ['STAGE=extract'])}`);
    const manifest = await finalizeExtract({ store: args.store, run: args.run, log });
    const tables = manifest.tables.map((t) => ({ name: t.name, rows: t.rows, raw_bytes: t.raw_bytes, bytes: t.bytes, seconds: 0 }));
    // Shards run concurrently, so they leave the run report alone; finalize reports the whole extract,
    // timed from the snapshot's instant (when the coordinator started).
    await reportExtract(args, { seconds: (Date.now() - Date.parse(manifest.as_of)) / 1000, tables });
    const rows = tables.reduce((n, t) => n + t.rows, 0);
    emitResult('extract', args, { run: manifest.run_id, as_of: manifest.as_of, snapshot_id: manifest.snapshot_id, tables: tables.length, rows }, [
      `finalized: ${tables.length} table(s), ${rows} rows → next: stop the coordinator (Ctrl-C), then ${makeCommand('transform', args)}`,
    ]);
    return;
  }
  const options: ExtractOptions = {
    splitRows,
    splitBytes,
    lockWaitSeconds,
    storeTimeoutSeconds: args['store-timeout'],
    databaseUrl: process.env.DATABASE_URL || undefined,
    store: args.store,
    run: args.run,
    tables: args.table,
    concurrency: checkConcurrency(args.concurrency),
    schemas: args.schema,
    gzipLevel,
    compression: checkCompression(args.compression),
    format: args.format,
    follow: args.follow,
    log,
  };
  if (command === 'snapshot') {
    if (!(args.heartbeat > 0)) throw new UserError(`invalid --heartbeat ${args.heartbeat}: use a number of seconds above 0`);
    if (!args.hold) throw new UserError('extract snapshot needs --hold: an exported snapshot exists only while its transaction is open, so the coordinator must keep running until every shard is done');
    // SIGINT/SIGTERM is the coordinator's normal end (exit 0): it releases the snapshot.
    const stop = new Promise((resolve) => { process.once('SIGINT', resolve); process.once('SIGTERM', resolve); });
    let snapshotId = '';
    await holdSnapshot(options, (plan) => {
      snapshotId = plan.snapshot_id;
      process.stdout.write(`${JSON.stringify({ run: plan.run_id, snapshot_id: plan.snapshot_id, as_of: plan.as_of, tables: plan.tables.length, parts: plan.units.length })}\n`);
    }, stop, args.heartbeat);
    process.stderr.write(`extract: stopped; snapshot ${snapshotId || '(none yet)'} released, parts and fragments shards wrote are kept; if \`make finalize STAGE=extract\` has not succeeded, start a new coordinator (${makeCommand('snapshot', args)}) and rerun every shard\n`);
    return;
  }
  if (command !== undefined) throw new UserError(`unknown command ${JSON.stringify(command)} (see extract --help)`);
  if (args.shard) {
    exitOnInterrupt('extract', () => {
      const p = Progress.current();
      return `${p ? `${p.done} of ${p.total} part(s) of shard ${args.shard} copied and kept` : `shard ${args.shard} stopped`} (its fragment is written last; a rerun copies its parts again to the same bytes); rerun ${makeCommand('extract', args, [`SHARD=${args.shard}`])} while the coordinator holds the snapshot`;
    });
    const summary = await runShard({ ...options, shard: parseShard(args.shard), snapshotId: args.snapshot });
    emitResult('extract', args, summary, [
      `shard ${summary.shard}: ${summary.rows} rows of ${summary.tables.length} table(s) in ${seconds(summary.seconds)} → next: the other shards, then ${makeCommand('finalize', args, ['STAGE=extract'])}`,
    ]);
    return;
  }
  if (args.snapshot) throw new UserError('--snapshot goes with --shard: an unsharded extract takes its own snapshot');
  if (args['dry-run']) {
    const dryRun = await dryRunExtract(options);
    emitDryRun('extract', args, dryRun, describeExtractDryRun(dryRun));
    return;
  }
  exitOnInterrupt('extract', () => {
    const p = Progress.current();
    const copied = p ? `${p.done} of ${p.total} part(s) copied, ` : '';
    const selected = args.table ?? [];
    // A TABLE= rerun writes over the tables' earlier parts as it goes: until it finishes, the manifest no longer matches them.
    const kept = selected.length > 0 && p && p.done > 0
      ? `the manifest is unchanged, but parts copied so far replaced earlier files of ${selected.join(', ')}: transform refuses them until this extract finishes`
      : 'nothing kept (the manifest is written last, so an extract starts over)';
    return `${copied}${kept}; rerun ${makeCommand('extract', args)}`;
  });
  const summary = await runExtract(options);
  await reportExtract(args, summary);
  emitResult('extract', args, summary, [
    `${summary.tables.length} table(s), ${summary.rows} rows, ${formatBytes(summary.bytes)} stored in ${seconds(summary.seconds)} → next: ${makeCommand('transform', args)}`,
  ]);
});

async function reportExtract(args: { store: string; run: string; table: string[] }, summary: Pick<ExtractSummary, 'seconds' | 'tables'>): Promise<void> {
  const tables = summary.tables;
  await appendRunReport(runStorage(args.store, args.run), args.run, {
    stage: 'extract',
    seconds: summary.seconds,
    ok: true,
    ...(args.table.length > 0 ? { tables_selected: args.table } : {}),
    totals: { tables: tables.length, rows: sum(tables.map((t) => t.rows)), csv_bytes: sum(tables.map((t) => t.raw_bytes)), gzip_bytes: sum(tables.map((t) => t.bytes)) },
    tables: Object.fromEntries(tables.map((t) => [t.name, { rows: t.rows, csv_bytes: t.raw_bytes, gzip_bytes: t.bytes, seconds: t.seconds }])),
    warnings: [],
  });
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
