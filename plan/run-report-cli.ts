// `report`: parses arguments and renders <run>/report.json; the work lives in run-report.ts.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commonOptions, parseCli, runStorage } from '../lib/config.ts';
import { UserError } from '../lib/errors.ts';
import { runCli } from '../lib/log.ts';
import { whereToOpen } from '../lib/output.ts';
import { writeLocalCopy } from '../lib/storage.ts';
import { requireCurrentTransform } from '../lib/freshness.ts';
import { readRunReport } from '../lib/run-report.ts';
import { readTransformManifest } from '../lib/transform-manifest.ts';
import { renderRunHtml, renderRunTerminal, summarise } from './run-report.ts';
import { REPORT_HTML_KEY, RUN_REPORT_KEY } from '../lib/run-layout.ts';

const usage = `report: the whole run, extract → transform → load → verify, as its stages recorded it

Usage: report [options]

Reads <store>/<run>/report.json (each stage appends to it), prints a table of stages and
tables, and writes <store>/<run>/report.html (self-contained, opens offline): verify's checks
PASS/FAIL and each table's state first, and the tables a TABLE= rerun covered. --out DIR writes
a local copy and prints its file:// address; without it, the line says where to open the page.`;

await runCli('report', async () => {
  const args = await parseCli(commonOptions(yargs(hideBin(process.argv)).usage(usage))
    .option('format', { choices: ['table', 'json'] as const, default: 'table' as const, describe: 'What goes to stdout' })
    .option('json', { type: 'boolean', default: false, describe: 'Same as --format json: one JSON document on stdout, as every stage prints with --json' })
    .option('out', { type: 'string', describe: 'Also write report.html to this local directory and print its file:// address' }), 'report');
  const run = runStorage(args.store, args.run);
  const report = await readRunReport(run);
  if (!report) throw new UserError(`no ${RUN_REPORT_KEY} in ${run.uri}: run a stage (make extract) for run ${args.run} first`);
  // A report that says all is well over items older than their extract would mislead: refuse it as load does.
  const transform = await readTransformManifest(run);
  if (transform) await requireCurrentTransform(run, args.run, transform, 'report');
  const summary = summarise(report);
  const html = renderRunHtml(summary);
  await run.put(REPORT_HTML_KEY, html);
  process.stdout.write(args.json || args.format === 'json' ? `${JSON.stringify(summary, null, 2)}\n` : renderRunTerminal(summary));
  if (args.out) {
    const file = path.resolve(args.out, REPORT_HTML_KEY);
    await writeLocalCopy(args.out, { [REPORT_HTML_KEY]: html });
    process.stderr.write(`report: wrote ${run.uri}/${REPORT_HTML_KEY}; open ${pathToFileURL(file).href}\n`);
  } else {
    process.stderr.write(`report: wrote ${run.uri}/${REPORT_HTML_KEY}; ${whereToOpen(run.uri, REPORT_HTML_KEY)} (or --out DIR for a local copy)\n`);
  }
});
