// `report`: parses arguments and renders <run>/report.json; the work lives in run-report.ts.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commonOptions, parseCli, runStorage } from '../../lib/config.ts';
import { UserError } from '../../lib/errors.ts';
import { runCli } from '../../lib/log.ts';
import { requireCurrentTransform } from '../../lib/freshness.ts';
import { RUN_REPORT_KEY, readRunReport } from '../../lib/run-report.ts';
import { readTransformManifest } from '../../lib/transform-manifest.ts';
import { renderRunHtml, renderRunTerminal, summarise } from './run-report.ts';

const usage = `report: the whole run, extract → transform → load → verify, as its stages recorded it

Usage: report [options]

Reads <store>/<run>/report.json (each stage appends to it), prints a table of stages and
tables, and writes <store>/<run>/report.html (self-contained, opens offline).`;

await runCli('report', async () => {
  const args = await parseCli(commonOptions(yargs(hideBin(process.argv)).usage(usage))
    .option('format', { choices: ['table', 'json'] as const, default: 'table' as const, describe: 'What goes to stdout' }), 'report');
  const run = runStorage(args.store, args.run);
  const report = await readRunReport(run);
  if (!report) throw new UserError(`no ${RUN_REPORT_KEY} in ${run.uri}: run a stage (make extract) for run ${args.run} first`);
  // A report that says all is well over items older than their extract would mislead: refuse it as load does.
  const transform = await readTransformManifest(run);
  if (transform) await requireCurrentTransform(run, args.run, transform, 'report');
  const summary = summarise(report);
  await run.put('report.html', renderRunHtml(summary));
  process.stdout.write(args.format === 'json' ? `${JSON.stringify(summary, null, 2)}\n` : renderRunTerminal(summary));
  process.stderr.write(`report: wrote ${run.uri}/report.html\n`);
});
