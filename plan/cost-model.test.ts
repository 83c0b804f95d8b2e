// The cost figures of the fixture run, recomputed by hand from the transform
// manifest and the item lines, for two tables, must equal what the plan says.
// The item sizes are computed here with a separate, spelled-out reading of
// DynamoDB's size rules, and their sum must equal the manifest's ddb_bytes.
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { UserError } from '../lib/errors.ts';
import { openStorage } from '../lib/storage.ts';
import { fixtureRun, type FixtureRun } from '../test/fixture-run.ts';
import { parsePriceOverrides, pricesFor, readPriceFile, type PriceTable } from '../lib/cost-model.ts';
import { makePlan, type Plan } from './plan.ts';

type Value = Record<string, unknown>;

/** DynamoDB item size, written out: name bytes + value bytes; numbers 1 byte per base-100 pair + 1; L/M 3 + 1 per element. */
function handSize(value: Value): number {
  const [type, v] = Object.entries(value)[0]!;
  switch (type) {
    case 'S': return Buffer.byteLength(v as string, 'utf8');
    case 'B': return Buffer.from(v as string, 'base64').length;
    case 'BOOL': case 'NULL': return 1;
    case 'N': {
      // Significant digits in base-100 pairs aligned on the point, + 1, + 1 when negative; zero is 1 byte (model/item-size.ts, measured).
      const m = /^([-+]?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/.exec(v as string)!;
      const digits = `${m[2]}${m[3] ?? ''}`;
      if (!/[1-9]/.test(digits)) return 1;
      const top = m[2]!.length - 1 + Number(m[4] ?? 0); // the power of ten of digits[0]
      const high = top - digits.search(/[1-9]/);
      const low = top - (digits.length - 1 - digits.split('').reverse().join('').search(/[1-9]/));
      return Math.floor(high / 2) - Math.floor(low / 2) + 2 + (m[1] === '-' ? 1 : 0);
    }
    case 'L': return 3 + (v as Value[]).reduce((n, e) => n + 1 + handSize(e), 0);
    case 'M': return 3 + Object.entries(v as Record<string, Value>).reduce((n, [k, e]) => n + 1 + Buffer.byteLength(k) + handSize(e), 0);
    default: throw new Error(`unexpected type ${type}`);
  }
}

function itemsOf(fx: FixtureRun, table: string): Record<string, Value>[] {
  const entry = fx.manifest.tables.find((t) => t.name === table)!;
  return entry.parts.flatMap((p) => gunzipSync(readFileSync(path.join(fx.store, fx.run, p.key))).toString('utf8').split('\n').filter(Boolean))
    .map((line) => (JSON.parse(line) as { Item: Record<string, Value> }).Item);
}

let fx: FixtureRun;
let plan: Plan;
let prices: PriceTable;
const workload = { requests_per_day: 50_000, write_share: 0.3, current_monthly_usd: 142, pitr: true, dms_hours: 10 };

test.before(async () => {
  fx = await fixtureRun();
  prices = pricesFor(readPriceFile(), 'us-east-1');
  plan = await makePlan(openStorage(fx.store).sub(fx.run), {
    runId: fx.run, sample: 1, maxKeys: 1000, concurrency: 2, region: 'us-east-1', prices, workload, log: () => {},
  });
});
test.after.always(async () => { await fx?.remove(); });

const close = (t: { true: (v: boolean, m?: string) => void }, actual: number, expected: number, what: string) =>
  t.true(Math.abs(actual - expected) <= 1e-12 + Math.abs(expected) * 1e-9, `${what}: plan ${actual}, by hand ${expected}`);

for (const name of ['users', 'processing_jobs']) {
  test(`${name}: import, BatchWriteItem, storage, GSI storage and PITR figures match a hand computation`, (t) => {
    const entry = fx.manifest.tables.find((e) => e.name === name)!;
    const items = itemsOf(fx, name);
    t.is(items.length, entry.items_out);
    const sizes = items.map((item) => Object.entries(item).reduce((n, [k, v]) => n + Buffer.byteLength(k) + handSize(v), 0));
    t.is(sizes.reduce((a, b) => a + b, 0), entry.ddb_bytes, 'hand sizes add up to the manifest ddb_bytes');

    const GiB = 1024 ** 3;
    // BatchWriteItem: ceil(KB) per item, plus one write per GSI the item is in (projection ALL: same size).
    let wru = 0;
    let gsiBytes = 0;
    let gsiEntries = 0;
    items.forEach((item, i) => {
      const kb = Math.ceil(sizes[i]! / 1024);
      const inGsis = (['1', '2'] as const).filter((n) => item[`GSI${n}PK`] && item[`GSI${n}SK`]).length;
      wru += kb * (1 + inGsis);
      gsiBytes += inGsis * sizes[i]!;
      gsiEntries += inGsis;
    });
    const cost = plan.cost.tables.find((c) => c.name === name)!;
    t.true(wru > entry.items_out, 'GSI writes add to the WRUs');
    t.is(cost.batch_write_units, wru);
    close(t, cost.batch_write_usd, (wru / 1e6) * 0.625, 'BatchWriteItem USD');
    close(t, cost.import_usd, (entry.raw_bytes / GiB) * 0.15, 'ImportTable USD');
    const storageGb = (entry.ddb_bytes + 100 * entry.items_out) / GiB;
    close(t, cost.storage_gb, storageGb, 'storage GB');
    close(t, cost.storage_usd_month, storageGb * 0.25, 'storage USD/month');
    close(t, cost.gsi_storage_usd_month, ((gsiBytes + 100 * gsiEntries) / GiB) * 0.25, 'GSI storage USD/month');
    close(t, cost.pitr_usd_month, storageGb * 0.2, 'PITR USD/month');
  });
}

test('totals: one-time options, monthly requests and savings follow from the per-table figures', (t) => {
  const c = plan.cost;
  const GiB = 1024 ** 3;
  close(t, c.one_time.import_table_usd, (fx.manifest.totals.raw_bytes / GiB) * 0.15, 'ImportTable total');
  close(t, c.one_time.dms_usd, 10 * prices.dms_instance_hour.usd + c.one_time.batch_write_usd, 'DMS = hours x rate + the same WRUs');
  t.is(c.one_time.cheapest, 'import_table');
  const perMonth = 50_000 * (365.25 / 12);
  const readUnits = plan.totals.read_units / plan.totals.items;
  close(t, c.monthly.reads_usd, (perMonth * 0.7 * readUnits / 1e6) * 0.125, 'reads');
  close(t, c.monthly.writes_usd, (perMonth * 0.3 * (c.one_time.batch_write_units / plan.totals.items) / 1e6) * 0.625, 'writes');
  close(t, c.monthly.total_usd, c.monthly.storage_usd + c.monthly.gsi_storage_usd + c.monthly.pitr_usd + c.monthly.reads_usd + c.monthly.writes_usd, 'total');
  close(t, c.monthly.savings_usd, 142 - c.monthly.total_usd, 'savings');
  t.true(c.monthly.savings_usd > 0);
});

test('--price overrides one price and marks it as given on the command line', (t) => {
  const over = pricesFor(readPriceFile(), 'us-east-1', parsePriceOverrides(['import_per_gb=0.3']));
  t.is(over.import_per_gb.usd, 0.3);
  t.is(over.import_per_gb.source, 'command line (--price)');
  t.is(over.storage_gb_month.usd, prices.storage_gb_month.usd);
  t.throws(() => parsePriceOverrides(['import=0.3']), { instanceOf: UserError, message: /import_per_gb/ });
  t.throws(() => parsePriceOverrides(['import_per_gb=-1']), { instanceOf: UserError });
  t.throws(() => parsePriceOverrides(['import_per_gb=']), { instanceOf: UserError });
});

test('every price in the table has a source, a date and a unit; unknown regions need every price given', (t) => {
  const file = readPriceFile();
  for (const [region, table] of Object.entries(file.regions)) {
    for (const [key, price] of Object.entries(table)) {
      t.true(price.usd >= 0 && price.source.length > 10 && /^\d{4}-\d{2}-\d{2}$/.test(price.as_of) && price.unit.length > 0, `${region} ${key}`);
      t.is(typeof price.assumption, 'boolean', `${region} ${key}`);
    }
  }
  t.throws(() => pricesFor(file, 'xx-nowhere-1'), { instanceOf: UserError, message: /no prices for region xx-nowhere-1/ });
  const all = parsePriceOverrides(Object.keys(file.regions['us-east-1']!).map((k) => `${k}=1`));
  t.is(pricesFor(file, 'xx-nowhere-1', all).storage_gb_month.usd, 1);
});
