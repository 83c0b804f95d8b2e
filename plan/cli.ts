// `plan`: parses arguments and runs the plan; the work lives in plan.ts.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { checkConcurrency, commonOptions, numberText, parseCli, runStorage } from '../lib/config.ts';
import { UserError } from '../lib/errors.ts';
import { logger, runCli } from '../lib/log.ts';
import { whereToOpen } from '../lib/output.ts';
import { writeLocalCopy } from '../lib/storage.ts';
import { DEFAULT_MAX_KEYS } from './collections.ts';
import { PRICE_KEYS, parsePriceOverrides, pricesFor, readPriceFile } from '../lib/cost-model.ts';
import { makePlan, planJson } from './plan.ts';
import { renderHtml } from './render-html.ts';
import { renderTerminal } from './render-terminal.ts';
import { PLAN_HTML_KEY, PLAN_JSON_KEY } from '../lib/run-layout.ts';

const usage = `plan: what a transform run will hold and cost in DynamoDB, before anyone pays for it

Usage: plan [options]

Reads <store>/<run>/transform/manifest.json and the item files, and reports per table and in total:
rows, items, average / p99 / max item size by DynamoDB's rules, uncompressed and gzip bytes, item
collections per PK, GSI key cardinality, and the cost: ImportTable vs BatchWriteItem vs AWS DMS
once, storage and requests per month, savings against the current monthly cost. Prints the table,
writes <run>/plan/plan.json and <run>/plan/plan.html (self-contained, opens offline).
Prices per region: lib/prices.json (every price with its source and date; override with --price).
Keys are never printed: a key appears as its entity prefix and a sha256 prefix (USER#…3fa2b1c4d5e6).`;

await runCli('plan', async () => {
  const args = await parseCli(commonOptions(yargs(hideBin(process.argv)).usage(usage))
    .option('sample', {
      type: 'string',
      // An empty SAMPLE (make exports it empty when unset) means the default, not 0.
      default: process.env.SAMPLE || '1',
      coerce: numberText('sample'),
      defaultDescription: '$SAMPLE or 1 (every item)',
      describe: 'Fraction of partition keys whose items are read (whole collections kept together); 0 reads the manifest only',
    })
    .option('max-keys', { type: 'string', default: String(DEFAULT_MAX_KEYS), coerce: numberText('max-keys'), describe: 'Distinct keys counted exactly, all key patterns together (~150 bytes each); beyond, the largest pattern\'s counts become approximate (HyperLogLog, Misra-Gries) and memory stays flat' })
    .option('region', { type: 'string', default: process.env.AWS_REGION || 'us-east-1', defaultDescription: '$AWS_REGION or us-east-1', describe: 'Price region (lib/prices.json)' })
    .option('price', { type: 'string', array: true, default: [] as string[], describe: `Override a price, key=usd (repeatable); keys: ${PRICE_KEYS.join(', ')}` })
    .option('current-monthly-usd', { type: 'string', default: process.env.CURRENT_MONTHLY_USD || '142', coerce: numberText('current-monthly-usd'), defaultDescription: '$CURRENT_MONTHLY_USD or 142 (RDS + NAT, the seed plan)', describe: 'What the current database costs per month' })
    .option('requests-per-day', { type: 'string', default: process.env.REQUESTS_PER_DAY || '100000', coerce: numberText('requests-per-day'), defaultDescription: '$REQUESTS_PER_DAY or 100000', describe: 'Application requests per day (reads + writes), for the monthly on-demand cost' })
    .option('write-share', { type: 'string', default: '0.2', coerce: numberText('write-share'), describe: 'Share of those requests that are writes (0..1)' })
    .option('dms-hours', { type: 'string', coerce: numberText('dms-hours'), describe: 'DMS replication-instance hours for the comparison (default: 24 + 1 per 3.6 M items, an assumption)' })
    .option('pitr', { type: 'boolean', default: true, describe: 'Count point-in-time recovery in the monthly cost (load enables it by default; --no-pitr)' })
    .option('out', { type: 'string', describe: 'Also write plan.json and plan.html to this local directory and print its file:// address' })
    .option('format', { choices: ['table', 'json'] as const, default: 'table' as const, describe: 'What stdout gets: the terminal table or plan.json' })
    .option('json', { type: 'boolean', default: false, describe: 'Same as --format json: one JSON document on stdout, as every stage prints with --json' })
    .option('quiet', { type: 'boolean', default: false, describe: 'No progress lines on stderr' })
    .example('plan --run 2026-11-28', 'every table, every item, prices of $AWS_REGION')
    .example('plan --sample 0.1 --region eu-west-1 --price import_per_gb=0.16', 'a tenth of the collections, Ireland prices, one price overridden'), 'plan');

  const number = (name: string, value: number, min: number, max: number) => {
    if (!Number.isFinite(value) || value < min || value > max) throw new UserError(`invalid --${name} ${value}: use a number from ${min} to ${max}`, 2);
    return value;
  };
  const log = args.quiet ? () => {} : logger('plan');
  const run = runStorage(args.store, args.run);
  const prices = pricesFor(readPriceFile(), args.region, parsePriceOverrides(args.price));
  const dmsHours = args['dms-hours'];
  const plan = await makePlan(run, {
    runId: args.run,
    tables: args.table,
    sample: number('sample', args.sample, 0, 1),
    maxKeys: Math.round(number('max-keys', args['max-keys'], 100, 1e8)),
    concurrency: checkConcurrency(args.concurrency),
    region: args.region,
    prices,
    workload: {
      requests_per_day: number('requests-per-day', args['requests-per-day'], 0, 1e13),
      write_share: number('write-share', args['write-share'], 0, 1),
      current_monthly_usd: number('current-monthly-usd', args['current-monthly-usd'], 0, 1e9),
      pitr: args.pitr,
      ...(dmsHours !== undefined ? { dms_hours: number('dms-hours', dmsHours, 0, 1e6) } : {}),
    },
    log,
  });

  const json = planJson(plan);
  const html = renderHtml(plan);
  await run.put(PLAN_JSON_KEY, json);
  await run.put(PLAN_HTML_KEY, html);
  log(`wrote ${run.uri}/${PLAN_JSON_KEY} and ${run.uri}/${PLAN_HTML_KEY}`);
  if (args.out) {
    await writeLocalCopy(args.out, { 'plan.json': json, 'plan.html': html });
    log(`wrote ${path.resolve(args.out, 'plan.json')}; open ${pathToFileURL(path.resolve(args.out, 'plan.html')).href}`);
  } else {
    log(`plan.html: ${whereToOpen(run.uri, PLAN_HTML_KEY)} (or --out DIR for a local copy)`);
  }
  process.stdout.write(args.json || args.format === 'json' ? json : renderTerminal(plan));
});
