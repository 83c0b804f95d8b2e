// `plan` as a user runs it, on a real transform run of the fixture dumps.
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { runCli } from '../test/cli.ts';
import { fixtureRun, type FixtureRun } from '../test/fixture-run.ts';
import type { Plan } from './plan.ts';

const CLI = 'plan/cli.ts';
// One fixture run is shared, and every plan writes <run>/plan/plan.json: the tests run one at a time.
let fx: FixtureRun;
let out: string;

test.before(async () => {
  fx = await fixtureRun();
  out = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-plan-out-'));
});
test.after.always(async () => {
  await fx?.remove();
  if (out) await rm(out, { recursive: true, force: true });
});

const env = () => ({ STORE: fx.store, RUN: fx.run, AWS_REGION: 'us-east-1' });

/** Every string value of the run's items long enough to identify something: keys, ids, emails, hashes. */
function sensitiveValues(): string[] {
  const values = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') { if (v.length >= 12) values.add(v); return; }
    if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
  };
  for (const table of fx.manifest.tables) {
    for (const part of table.parts) {
      for (const line of gunzipSync(readFileSync(path.join(fx.store, fx.run, part.key))).toString('utf8').split('\n').filter(Boolean)) {
        const item = (JSON.parse(line) as { Item: Record<string, { S?: string }> }).Item;
        // Constant key parts (PROFILE, PAYMENT) are template text, not values: only keys of 12+ characters count.
        for (const k of ['PK', 'SK', 'GSI1PK', 'GSI1SK', 'GSI2PK', 'GSI2SK']) if ((item[k]?.S?.length ?? 0) >= 12) values.add(item[k]!.S!);
        walk(item.data);
      }
    }
  }
  return [...values];
}

test.serial('prints every table with non-zero figures and a total, and writes plan.json and plan.html', async (t) => {
  const r = await runCli(CLI, ['--out', out], env());
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  for (const table of fx.manifest.tables) {
    const row = lines.find((l) => l.startsWith(`${table.name} `));
    t.truthy(row, `a row for ${table.name}`);
    // rows, items, avg, p99, max, raw, gzip, DDB bytes, WRU: none zero.
    const cells = row!.trim().split(/\s{2,}/).slice(1, 10);
    t.is(cells.length, 9, row);
    for (const cell of cells) t.false(/^0( B)?$/.test(cell), `${table.name}: ${row}`);
  }
  const total = lines.find((l) => l.startsWith('TOTAL '))!;
  t.truthy(total);
  t.true(total.includes(fx.manifest.totals.items_out.toLocaleString('en-US')));
  t.regex(r.stdout, /ImportTable\s+\$\d/);
  t.regex(r.stdout, /BatchWriteItem\s+\$\d/);
  t.regex(r.stdout, /AWS DMS\s+\$\d/);
  t.regex(r.stdout, /savings\s+\$1[34]\d\.\d\d per month/);
  t.regex(r.stdout, /GSI1PK JOB_STATUS#… is a low-cardinality key/);

  const stored = JSON.parse(await readFile(path.join(fx.store, fx.run, 'plan', 'plan.json'), 'utf8')) as Plan;
  t.is(stored.format, 'pg2ddb.plan/1');
  t.is(stored.tables.length, fx.manifest.tables.length);
  t.is(stored.totals.items, fx.manifest.totals.items_out);
  t.is(stored.totals.ddb_bytes, fx.manifest.totals.ddb_bytes);
  t.is(stored.scan.items_analysed, fx.manifest.totals.items_out);
  t.true(stored.tables.every((tp) => tp.figures === 'exact' && tp.p99_item_bytes! > 0 && tp.p99_item_bytes! <= tp.max_item_bytes));
  t.is(stored.collections!.exact, true);
  t.deepEqual(stored.indexes.map((i) => i.attribute), ['GSI1PK', 'GSI2PK']);
  t.is(await readFile(path.join(out, 'plan.json'), 'utf8'), await readFile(path.join(fx.store, fx.run, 'plan', 'plan.json'), 'utf8'));
  const html = await readFile(path.join(out, 'plan.html'), 'utf8');
  t.true(html.includes('id="chart-item-bytes"') && html.includes('id="chart-one-time"') && html.includes('id="chart-monthly"'));
  // Self-contained: nothing fetched from anywhere.
  t.notRegex(html, /(src|href)\s*=|url\(|@import|<script/i);
});

test.serial('no key or item value appears in the terminal output, plan.json or plan.html', async (t) => {
  const r = await runCli(CLI, ['--out', out, '--quiet'], env());
  t.is(r.code, 0, r.stderr);
  const outputs = { stdout: r.stdout, 'plan.json': await readFile(path.join(out, 'plan.json'), 'utf8'), 'plan.html': await readFile(path.join(out, 'plan.html'), 'utf8') };
  const values = sensitiveValues();
  t.true(values.length > 500);
  for (const [name, text] of Object.entries(outputs)) {
    const leaked = values.filter((v) => text.includes(v) || text.includes(JSON.stringify(v).slice(1, -1)));
    t.deepEqual(leaked, [], `${name} shows item values`);
  }
});

test.serial('the same run and options give the same plan.json, byte for byte', async (t) => {
  const a = await runCli(CLI, ['--format', 'json', '--quiet'], env());
  const b = await runCli(CLI, ['--format', 'json', '--quiet', '--concurrency', '1'], env());
  t.is(a.code, 0, a.stderr);
  t.is(a.stdout, b.stdout);
});

test.serial('--sample 0 reads the manifest only; --sample 0.5 reads half the collections and scales', async (t) => {
  const none = await runCli(CLI, ['--sample', '0', '--format', 'json', '--quiet'], env());
  t.is(none.code, 0, none.stderr);
  const p0 = JSON.parse(none.stdout) as Plan;
  t.is(p0.scan.mode, 'manifest');
  t.is(p0.scan.items_read, 0);
  t.is(p0.collections, null);
  t.true(p0.tables.every((tp) => tp.figures === 'estimated' && tp.p99_item_bytes === null && tp.write_units >= tp.items));
  t.true(p0.warnings.some((w) => w.includes('no item was read')));

  const half = await runCli(CLI, ['--sample', '0.5', '--format', 'json', '--quiet'], env());
  t.is(half.code, 0, half.stderr);
  const p5 = JSON.parse(half.stdout) as Plan;
  t.is(p5.scan.mode, 'sample');
  t.is(p5.scan.items_read, fx.manifest.totals.items_out);
  t.true(p5.scan.items_analysed > 0 && p5.scan.items_analysed < fx.manifest.totals.items_out);
  t.is(p5.totals.items, fx.manifest.totals.items_out, 'manifest counts stay exact');
  t.false(p5.collections!.exact);
});

test.serial('--price, --region, --current-monthly-usd and --requests-per-day change the figures; bad values fail with one line', async (t) => {
  const base = JSON.parse((await runCli(CLI, ['--format', 'json', '--quiet'], env())).stdout) as Plan;
  const r = await runCli(CLI, ['--format', 'json', '--quiet', '--price', 'import_per_gb=0.3', '--current-monthly-usd', '200', '--requests-per-day', '0', '--region', 'eu-west-1'], env());
  t.is(r.code, 0, r.stderr);
  const p = JSON.parse(r.stdout) as Plan;
  t.is(p.cost.region, 'eu-west-1');
  t.true(Math.abs(p.cost.one_time.import_table_usd - 2 * base.cost.one_time.import_table_usd) < 1e-12);
  t.is(p.cost.monthly.reads_usd, 0);
  t.is(p.cost.monthly.current_usd, 200);
  t.is(p.cost.prices.storage_gb_month.usd, 0.283);

  // A value out of range is a usage error (exit 2), as a malformed one is.
  const bad = await runCli(CLI, ['--sample', '2'], env());
  t.is(bad.code, 2);
  t.regex(bad.stderr, /^plan: error: invalid --sample 2/m);
  const region = await runCli(CLI, ['--region', 'mars-1'], env());
  t.is(region.code, 1);
  t.regex(region.stderr, /no prices for region mars-1/);
  const missing = await runCli(CLI, [], { ...env(), RUN: 'nothing-here' });
  t.is(missing.code, 1);
  t.regex(missing.stderr, /no transform manifest/);
});
