// What verify will read and what that costs, printed before it reads: a Scan
// is billed on the bytes it reads (4 KB per read unit, strongly consistent;
// half a unit eventually consistent), and it reads the whole table, whatever
// TABLE= selects. Sizes are the transform manifest's (what the table should hold).
import type { Shard } from '../lib/shard.ts';
import { formatBytes } from '../lib/log.ts';
import type { TransformManifest } from '../lib/transform-manifest.ts';
import type { Consistency } from '../lib/verify-report.ts';
import { GB, pricesFor, readPriceFile } from '../lib/cost-model.ts';


/** Bytes per strongly consistent read unit. */
const READ_UNIT_BYTES = 4096;

export interface ReadCost {
  items: number;
  bytes: number;
  read_units_strong: number;
  read_units_eventual: number;
  region: string;
  /** Undefined when the price file has no such region. */
  usd_strong?: number;
  usd_eventual?: number;
}

/** The read of the whole table (or of shard i/n's share of it) by the manifest's totals. */
export function readCost(manifest: TransformManifest, shard: Shard | undefined, region = process.env.AWS_REGION || 'us-east-1'): ReadCost {
  const share = shard ? 1 / shard.count : 1;
  const items = Math.round(manifest.totals.items_out * share);
  const bytes = Math.round(manifest.totals.ddb_bytes * share);
  const strong = Math.ceil(bytes / READ_UNIT_BYTES);
  const eventual = Math.ceil(strong / 2);
  let perMillion: number | undefined;
  try {
    perMillion = pricesFor(readPriceFile(), region).read_request_per_million.usd;
  } catch {
    perMillion = undefined;
  }
  return {
    items, bytes, read_units_strong: strong, read_units_eventual: eventual, region,
    ...(perMillion !== undefined ? { usd_strong: (strong / 1e6) * perMillion, usd_eventual: (eventual / 1e6) * perMillion } : {}),
  };
}

const usd = (n: number | undefined) => (n === undefined ? 'no price' : `$${n < 0.01 ? n.toFixed(4) : n.toFixed(2)}`);

export function describeReadCost(manifest: TransformManifest, shard: Shard | undefined, consistency: Consistency, region?: string): string[] {
  const c = readCost(manifest, shard, region);
  const what = shard ? `shard ${shard.index}/${shard.count}'s share of the table` : 'the whole table';
  return [
    `will read ${what}: ${c.items} items, ${(c.bytes / GB).toFixed(3)} GB (${formatBytes(c.bytes)}); ` +
    `strongly consistent ${c.read_units_strong} read units ${usd(c.usd_strong)}, eventually consistent ${c.read_units_eventual} ${usd(c.usd_eventual)} ` +
    `(${c.region} on-demand${c.usd_strong === undefined ? ': no prices for this region in lib/prices.json' : ''}); reading ${consistency === 'strong' ? 'strongly' : 'eventually'} consistent`,
  ];
}
