import test from 'ava';
import type { TransformManifest } from '../lib/transform-manifest.ts';
import { describeReadCost, readCost } from './price.ts';
import { pricesFor, readPriceFile } from '../lib/cost-model.ts';

const manifest = { totals: { items_out: 1_000_000, ddb_bytes: 4096 * 250_000 } } as TransformManifest;

test('the Scan of the whole table costs a read unit per 4 KB strongly consistent, half of that eventually consistent', (t) => {
  const perMillion = pricesFor(readPriceFile(), 'us-east-1').read_request_per_million.usd;
  const cost = readCost(manifest, undefined, 'us-east-1');
  t.like(cost, { items: 1_000_000, bytes: 1_024_000_000, read_units_strong: 250_000, read_units_eventual: 125_000 });
  t.is(cost.usd_strong, 0.25 * perMillion);
  t.is(cost.usd_eventual, 0.125 * perMillion);
  t.like(readCost(manifest, { index: 2, count: 4 }, 'us-east-1'), { items: 250_000, read_units_strong: 62_500 });
});

test('the printed cost names the share, both consistencies and the region, and says when a region has no prices', (t) => {
  const [line] = describeReadCost(manifest, { index: 1, count: 2 }, 'eventual', 'us-east-1');
  t.regex(line!, /^will read shard 1\/2's share of the table: 500000 items, 0\.477 GB .*strongly consistent 125000 read units \$[\d.]+, eventually consistent 62500 \$[\d.]+ \(us-east-1 on-demand\); reading eventually consistent$/);
  t.is(readCost(manifest, undefined, 'xx-nowhere-1').usd_strong, undefined);
});
