// `transform`: parses arguments and runs the stage; the work lives in runner.ts.
import { MODEL_OPTION, modelDir } from '../model/registry.ts';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { checkCompression, type Compression } from '../lib/compression.ts';
import { checkConcurrency, checkGzipLevel, commonOptions, parseCli, runStorage } from '../lib/config.ts';
import { checkStoreWritable, storeTimeoutOption } from '../lib/store-check.ts';
import { appendRunReport } from '../lib/run-report.ts';
import { Progress, exitOnInterrupt, logger, runCli } from '../lib/log.ts';
import { emitDryRun, emitResult, jsonOption, makeCommand, seconds as secondsText } from '../lib/output.ts';
import { describeTransformDryRun, dryRunTransform } from './dry-run.ts';
import type { Unmapped } from '../model/table-mapping.ts';
import { parseShard } from '../lib/shard.ts';
import { UserError } from '../lib/errors.ts';
import type { TransformManifest } from '../lib/transform-manifest.ts';
import { finalizeTransform, keepJoins, listUnits, runTransform, runTransformShard } from './runner.ts';
import { writeCheckKey } from '../lib/run-layout.ts';

const usage = `transform: turn an extract run into DynamoDB JSON items for ImportTable

Usage:    transform [options]              every unit, then the manifest
Shard:    transform --shard i/n [options]  shard i's share of the units, then its fragment
Finalize: transform finalize [options]     check every unit is in one fragment; write the manifest
Units:    transform units [--shards n]     the shards k/n of a map over units and the units of each
          (to stdout and <run>/transform/units.json: one unit per shard up to 10,000 units,
          else groups of units balanced by bytes; --shards n for fewer, larger children)
Joins:    transform joins [options]        build the join indexes the units use and keep them in
          <run>/transform/joins/, before the shards start: each shard then copies an index
          instead of reading the whole joined table (the first process to need one keeps it anyway);
          one kept for the same inputs is left as it is, uncopied (--force builds it again)

Reads <store>/<run>/extract/ (files + manifest) and writes <store>/<run>/items/<table>/part-NNNNN.json.gz (.json.zst, .json)
(one {"Item":{...}} per line, gzip), rejects to <run>/transform/rejects/<table>.jsonl, and
<run>/transform/manifest.json last. One mapper per table lives in model/entities/.
Deterministic (same input ⇒ same bytes) and restartable: units already done are skipped.
Units run --concurrency at a time; with --concurrency above 1, a unit of 16 MB of CSV or more (not
Parquet) that runs alone (a table of one part, a TABLE= rerun) has a helper thread build some of its
rows, to the same bytes.
Exits 3 when the run is not ready for load (duplicate keys, missing units); the manifest says why.
A shard (AWS Batch array child, Step Functions map item, any machine) reads and writes only the
store; shards are balanced by bytes, rerunnable alone, and their items equal an unsharded run's.
--dry-run lists the units to do and to skip and writes nothing. The result goes to stdout as one
JSON document (--json, or whenever stdout is not a terminal); on a terminal, a summary with the
next step goes to stderr.`;

await runCli('transform', async () => {
  const args = await parseCli(storeTimeoutOption(jsonOption(commonOptions(yargs(hideBin(process.argv)).usage(usage))))
    .option('gzip-level', { type: 'number', default: 1, describe: 'gzip level 0-9 (ImportTable bills uncompressed bytes; 1 is fastest)' })
    .option('compression', {
      choices: ['gzip', 'zstd', 'none'] as const,
      default: (process.env.COMPRESSION || 'gzip') as Compression,
      describe: 'Item files: gzip (.json.gz), zstd (.json.zst, needs the zstd program; about half the CPU and smaller) or none (.json)',
    })
    .option('unmapped', {
      choices: ['fail', 'skip', 'generic'] as const,
      default: (process.env.UNMAPPED || 'fail') as Unmapped,
      describe: 'A table no mapper covers: fail the run, skip it (counted as dropped), or map it generically (PK <TABLE>#<primary key>, SK <TABLE>)',
    })
    .option('drop-expired', { type: 'boolean', default: false, describe: "Drop rows whose ttl is before the extract's as_of (counted)" })
    .option('input', {
      choices: ['csv', 'parquet'] as const,
      // `make extract FORMAT=parquet` then `make transform FORMAT=parquet` reads the Parquet files.
      default: ['csv', 'parquet'].includes(process.env.FORMAT ?? '') ? process.env.FORMAT as 'csv' | 'parquet' : undefined,
      defaultDescription: "$FORMAT if csv or parquet, else each part's own file (the CSV when the extract has both)",
      describe: 'Which file of each extract part to read, when the extract was made with --format both',
    })
    .option('model', MODEL_OPTION)
    .option('force', { type: 'boolean', default: false, describe: 'Redo the selected units even when done, and rebuild the join indexes they use' })
    .option('quiet', { type: 'boolean', default: false, describe: 'No progress lines on stderr' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'Print the units to do and to skip, with their rows, and write nothing' })
    .option('shard', { type: 'string', default: process.env.SHARD || undefined, defaultDescription: '$SHARD or none', describe: 'Do only shard i of n (i/n) of the units' })
    .command('finalize', 'Merge a sharded transform: every unit in exactly one fragment, then the manifest')
    .command('units', 'List the shards k/n of a map over units, with the units each does')
    .command('joins', 'Build the join indexes the units use and keep them in the run, before the shards start')
    .option('shards', { type: 'number', describe: 'units: how many shards (map items); default one per unit, at most 10000' })
    .example('transform --run 2026-11-28', 'every table of the run')
    .example('TABLE=users transform', 'one table; the others keep their items'), 'transform');

  const gzipLevel = checkGzipLevel(args['gzip-level']);
  let started = Date.now();
  const options = {
    store: args.store,
    run: args.run,
    tables: args.table,
    concurrency: checkConcurrency(args.concurrency),
    gzipLevel,
    compression: checkCompression(args.compression),
    unmapped: args.unmapped,
    dropExpired: args['drop-expired'],
    input: args.input,
    force: args.force,
    entities: modelDir(args.model),
    log: args.quiet ? () => {} : logger('transform'),
  };
  const command = args._[0];
  if (command === 'units') {
    process.stdout.write(await listUnits({ ...options, shards: args.shards }));
    return;
  }
  if (command === 'joins') {
    if (args.shard || args['dry-run']) throw new UserError('transform joins takes no --shard or --dry-run: it builds every join index the selected tables use');
    const joins = await keepJoins(options);
    emitResult('transform', args, { run: args.run, joins }, [
      joins.length === 0 ? 'no selected table joins another: nothing to keep' : `${joins.length} join index(es) kept in ${args.store}/${args.run}/transform/joins → next: ${makeCommand('transform', args)} (or its shards)`,
    ]);
    return;
  }
  if (command !== undefined && command !== 'finalize') throw new UserError(`unknown command ${JSON.stringify(command)} (see transform --help)`);
  if (args['dry-run']) {
    if (command || args.shard) throw new UserError('--dry-run goes with a plain transform (no finalize or --shard): it shows what one transform would do');
    const dryRun = await dryRunTransform(options);
    emitDryRun('transform', args, dryRun, describeTransformDryRun(dryRun));
    return;
  }
  // Before any work: a store that cannot take the items fails now, in one line.
  await checkStoreWritable(runStorage(args.store, args.run), writeCheckKey('transform'), args['store-timeout']);
  exitOnInterrupt('transform', () => {
    if (command === 'finalize') return `the shards' items and fragments are kept and the manifest is written last and whole; rerun ${makeCommand('finalize', args, ['STAGE=transform'])}`;
    const p = Progress.current();
    return `${p ? `${p.done} of ${p.total} unit(s) done and kept` : 'the units done are kept'}; rerun ${makeCommand('transform', args, args.shard ? [`SHARD=${args.shard}`] : [])} to finish`;
  });
  if (args.shard) {
    if (command) throw new UserError(`--shard does not go with ${command}`);
    // Shards run concurrently: each leaves the run report alone, and finalize reports the whole stage.
    const summary = await runTransformShard({ ...options, shard: parseShard(args.shard) });
    const took = (Date.now() - started) / 1000;
    emitResult('transform', args, { run: args.run, ...summary, seconds: took }, [
      `shard ${summary.shard}: ${summary.units} unit(s) (${summary.done_before} done before) in ${secondsText(took)} → next: the other shards, then ${makeCommand('finalize', args, ['STAGE=transform'])}`,
    ]);
    return;
  }
  let manifest: TransformManifest;
  if (command === 'finalize') {
    const merged = await finalizeTransform(options);
    manifest = merged.manifest;
    if (merged.started_at) started = Date.parse(merged.started_at);
  } else {
    manifest = await runTransform(options);
  }
  const { totals, duplicates, problems, ready_for_load } = manifest;
  const seconds = (Date.now() - started) / 1000;
  const warnings = manifest.tables.flatMap((t) => Object.entries(t.warnings).map(([column, n]) => `${t.name}.${column}: ${n} value(s) kept as S`));
  await appendRunReport(runStorage(args.store, args.run), args.run, {
    stage: 'transform',
    seconds,
    ok: ready_for_load,
    ...(args.table.length > 0 ? { tables_selected: args.table } : {}),
    totals: {
      rows_in: totals.rows_in, items_out: totals.items_out, rejected: totals.rejected, dropped: totals.dropped,
      json_bytes: totals.raw_bytes, gzip_bytes: totals.bytes, ddb_bytes: totals.ddb_bytes, duplicates,
    },
    tables: Object.fromEntries(manifest.tables.map((t) => [t.name, { rows_in: t.rows_in, items_out: t.items_out, rejected: t.rejected, dropped: t.dropped, json_bytes: t.raw_bytes, ddb_bytes: t.ddb_bytes }])),
    warnings: [...problems, ...warnings],
  });
  emitResult('transform', args, { run: manifest.run_id, ready_for_load, seconds, totals, duplicates, problems, tables: manifest.tables.map((t) => ({ name: t.name, rows_in: t.rows_in, items_out: t.items_out, rejected: t.rejected, dropped: t.dropped, warnings: t.warnings })) }, [
    `${manifest.tables.length} table(s), ${totals.items_out} items, ${totals.rejected} rejects in ${secondsText(seconds)} → next: ${ready_for_load ? makeCommand('load', args) : `fix what is not ready (below), then ${makeCommand('transform', args)}`}`,
  ]);
  if (!ready_for_load) {
    for (const problem of problems) process.stderr.write(`transform: not ready for load: ${problem}\n`);
    return 3;
  }
});
