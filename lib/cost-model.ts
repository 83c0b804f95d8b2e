// What the migration costs, from what the run holds: pure functions over the
// per-table figures and a price table, so a test can redo every number by hand.
//
// One-time, three ways to fill the table:
//   ImportTable     billed per GB of uncompressed source data (the item files'
//                   raw bytes); consumes no write capacity, GSIs included.
//   BatchWriteItem  each item costs ceil(size / 1 KB) WRUs, plus the same again
//                   for every GSI it appears in (projection ALL: the index entry
//                   is the whole item).
//   AWS DMS         replication-instance hours at an assumed rate, plus the
//                   same WRUs as BatchWriteItem (DMS writes through the API).
// Monthly, on-demand: storage of the table and of each GSI (item bytes + 100
// bytes of per-item overhead each), PITR on the table's size, and reads and
// writes at the user's request rate. Against the current monthly cost the
// user states: the savings.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from './errors.ts';
import { PACKAGE_ROOT } from './runtime.ts';

/** Storage and import are billed per GB of 2^30 bytes. */
export const GB = 1024 ** 3;
/** DynamoDB adds 100 bytes per item (and per index entry) to the billed storage size. */
export const STORAGE_OVERHEAD_BYTES = 100;
/** An average month: 365.25 / 12 days. */
export const DAYS_PER_MONTH = 365.25 / 12;

export const PRICE_KEYS = [
  'import_per_gb', 'write_request_per_million', 'read_request_per_million', 'storage_gb_month',
  'gsi_write_request_per_million', 'gsi_storage_gb_month', 'pitr_gb_month', 'dms_instance_hour',
] as const;
export type PriceKey = (typeof PRICE_KEYS)[number];

export interface Price {
  usd: number;
  unit: string;
  source: string;
  as_of: string;
  checked?: string;
  assumption: boolean;
}
export type PriceTable = Record<PriceKey, Price>;

export interface PriceFile {
  format: string;
  currency: string;
  about: string;
  regions: Record<string, PriceTable>;
}

// From the package root, never beside this module: built, it sits in a chunk of dist/ (lib/runtime.ts).
export const PRICE_FILE = path.join(PACKAGE_ROOT, 'lib/prices.json');

export function readPriceFile(file: URL | string = PRICE_FILE): PriceFile {
  return JSON.parse(readFileSync(file, 'utf8')) as PriceFile;
}

/** `key=usd` arguments → overrides, checked against the known keys. */
export function parsePriceOverrides(args: string[]): Partial<Record<PriceKey, number>> {
  const out: Partial<Record<PriceKey, number>> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    const key = arg.slice(0, eq) as PriceKey;
    const value = Number(arg.slice(eq + 1));
    if (eq < 0 || !PRICE_KEYS.includes(key) || !Number.isFinite(value) || value < 0 || arg.slice(eq + 1).trim() === '') {
      throw new UserError(`invalid --price ${JSON.stringify(arg)}: use key=usd with key one of ${PRICE_KEYS.join(', ')}`);
    }
    out[key] = value;
  }
  return out;
}

/** The region's prices with the command line's overrides applied (each marked as such). */
export function pricesFor(file: PriceFile, region: string, overrides: Partial<Record<PriceKey, number>> = {}): PriceTable {
  const base = file.regions[region];
  const missing = PRICE_KEYS.filter((k) => overrides[k] === undefined);
  if (!base && missing.length > 0) {
    throw new UserError(`no prices for region ${region} in lib/prices.json (it has ${Object.keys(file.regions).join(', ')}): choose one with --region, or give every price with --price (missing: ${missing.join(', ')})`);
  }
  const table = {} as PriceTable;
  for (const key of PRICE_KEYS) {
    const override = overrides[key];
    table[key] = override !== undefined
      ? { usd: override, unit: base?.[key].unit ?? key, source: 'command line (--price)', as_of: 'given', assumption: false }
      : base![key];
  }
  return table;
}

/** What the cost model needs of one table: manifest figures and, from the items, write/read units. */
export interface TableCostInput {
  name: string;
  items: number;
  /** Uncompressed DynamoDB JSON bytes: what ImportTable bills. */
  raw_bytes: number;
  /** Σ item sizes by DynamoDB's rules. */
  ddb_bytes: number;
  /** Σ ceil(item size / 1 KB). */
  write_units: number;
  /** Σ ceil(item size / 4 KB). */
  read_units: number;
  /** Per GSI: entries, their bytes and Σ ceil(size / 1 KB). */
  indexes: { name: string; items: number; bytes: number; write_units: number }[];
}

export interface TableCost {
  name: string;
  import_usd: number;
  /** WRUs of writing every item with BatchWriteItem: base table + every GSI entry. */
  batch_write_units: number;
  batch_write_usd: number;
  storage_gb: number;
  storage_usd_month: number;
  gsi_storage_gb: number;
  gsi_storage_usd_month: number;
  pitr_usd_month: number;
}

export function tableCost(t: TableCostInput, prices: PriceTable): TableCost {
  const gsiWriteUnits = t.indexes.reduce((n, i) => n + i.write_units, 0);
  const storageGb = (t.ddb_bytes + STORAGE_OVERHEAD_BYTES * t.items) / GB;
  const gsiStorageGb = t.indexes.reduce((n, i) => n + i.bytes + STORAGE_OVERHEAD_BYTES * i.items, 0) / GB;
  return {
    name: t.name,
    import_usd: (t.raw_bytes / GB) * prices.import_per_gb.usd,
    batch_write_units: t.write_units + gsiWriteUnits,
    batch_write_usd: (t.write_units / 1e6) * prices.write_request_per_million.usd + (gsiWriteUnits / 1e6) * prices.gsi_write_request_per_million.usd,
    storage_gb: storageGb,
    storage_usd_month: storageGb * prices.storage_gb_month.usd,
    gsi_storage_gb: gsiStorageGb,
    gsi_storage_usd_month: gsiStorageGb * prices.gsi_storage_gb_month.usd,
    pitr_usd_month: storageGb * prices.pitr_gb_month.usd,
  };
}

export interface Workload {
  /** Requests per day the application makes, reads and writes together. */
  requests_per_day: number;
  /** Share of them that are writes (0..1). */
  write_share: number;
  /** Hours of DMS replication instance a full load would take (an assumption). */
  dms_hours: number;
  /** What the current database costs per month. */
  current_monthly_usd: number;
  /** PITR enabled on the new table (load enables it by default). */
  pitr: boolean;
}

export interface CostReport {
  region: string;
  prices: PriceTable;
  workload: Workload;
  tables: TableCost[];
  one_time: {
    import_table_usd: number;
    batch_write_units: number;
    batch_write_usd: number;
    dms_instance_usd: number;
    dms_usd: number;
    cheapest: 'import_table' | 'batch_write' | 'dms';
  };
  monthly: {
    storage_usd: number;
    gsi_storage_usd: number;
    pitr_usd: number;
    /** Per request on average: RRU of reading one item, WRU of writing one item with its GSI entries. */
    read_units_per_read: number;
    write_units_per_write: number;
    reads_usd: number;
    writes_usd: number;
    total_usd: number;
    current_usd: number;
    savings_usd: number;
  };
  /** Months until the savings pay for the import (undefined without savings). */
  payback_months?: number;
  assumptions: string[];
}

export function costReport(region: string, inputs: TableCostInput[], prices: PriceTable, workload: Workload): CostReport {
  const tables = inputs.map((t) => tableCost(t, prices));
  const sum = (f: (t: TableCost) => number) => tables.reduce((n, t) => n + f(t), 0);
  const items = inputs.reduce((n, t) => n + t.items, 0);
  const importUsd = sum((t) => t.import_usd);
  const batchUnits = sum((t) => t.batch_write_units);
  const batchUsd = sum((t) => t.batch_write_usd);
  const dmsInstanceUsd = workload.dms_hours * prices.dms_instance_hour.usd;
  const dmsUsd = dmsInstanceUsd + batchUsd;

  // Reads and writes at the stated rate, each of the average item: a read costs
  // the average RRUs of one item, a write its WRUs plus its GSI entries' WRUs.
  const readUnitsPerRead = items > 0 ? inputs.reduce((n, t) => n + t.read_units, 0) / items : 0;
  const writeUnitsPerWrite = items > 0 ? batchUnits / items : 0;
  const baseWriteShare = batchUnits > 0 ? inputs.reduce((n, t) => n + t.write_units, 0) / batchUnits : 1;
  const requestsPerMonth = workload.requests_per_day * DAYS_PER_MONTH;
  const readUnits = requestsPerMonth * (1 - workload.write_share) * readUnitsPerRead;
  const writeUnits = requestsPerMonth * workload.write_share * writeUnitsPerWrite;
  const readsUsd = (readUnits / 1e6) * prices.read_request_per_million.usd;
  const writesUsd = (writeUnits / 1e6) * (baseWriteShare * prices.write_request_per_million.usd + (1 - baseWriteShare) * prices.gsi_write_request_per_million.usd);
  const storageUsd = sum((t) => t.storage_usd_month);
  const gsiStorageUsd = sum((t) => t.gsi_storage_usd_month);
  const pitrUsd = workload.pitr ? sum((t) => t.pitr_usd_month) : 0;
  const totalUsd = storageUsd + gsiStorageUsd + pitrUsd + readsUsd + writesUsd;
  const savingsUsd = workload.current_monthly_usd - totalUsd;
  const options = { import_table: importUsd, batch_write: batchUsd, dms: dmsUsd };
  const cheapest = (Object.keys(options) as (keyof typeof options)[]).reduce((a, b) => (options[b] < options[a] ? b : a));

  const assumptions = [
    `${workload.requests_per_day} requests/day, ${(workload.write_share * 100).toFixed(0)}% writes; a read is strongly consistent (eventually consistent halves the read cost) and a write replaces one average item with its GSI entries`,
    `AWS DMS: ${workload.dms_hours} instance-hours at $${prices.dms_instance_hour.usd}/h (assumed), plus the same write units as BatchWriteItem`,
    'storage is billed on item bytes + 100 bytes per item and per GSI entry; the account-wide free tier (25 GB-month) is not deducted',
    ...(workload.pitr ? ['point-in-time recovery is on (load enables it by default), billed on the table size'] : []),
    ...PRICE_KEYS.filter((k) => prices[k].assumption).map((k) => `price ${k} = $${prices[k].usd} is an assumption: ${prices[k].source}`),
  ];
  return {
    region,
    prices,
    workload,
    tables,
    one_time: { import_table_usd: importUsd, batch_write_units: batchUnits, batch_write_usd: batchUsd, dms_instance_usd: dmsInstanceUsd, dms_usd: dmsUsd, cheapest },
    monthly: {
      storage_usd: storageUsd, gsi_storage_usd: gsiStorageUsd, pitr_usd: pitrUsd,
      read_units_per_read: readUnitsPerRead, write_units_per_write: writeUnitsPerWrite,
      reads_usd: readsUsd, writes_usd: writesUsd, total_usd: totalUsd,
      current_usd: workload.current_monthly_usd, savings_usd: savingsUsd,
    },
    ...(savingsUsd > 0 ? { payback_months: importUsd / savingsUsd } : {}),
    assumptions,
  };
}

/** Assumed DMS full-load time: a day of instance time (setup, load, validation) plus an hour per 3.6 M items (1,000 items/s). */
export const DMS_BASE_HOURS = 24;
export const DMS_ITEMS_PER_SECOND = 1000;

export function assumedDmsHours(items: number): number {
  return DMS_BASE_HOURS + Math.ceil(items / (DMS_ITEMS_PER_SECOND * 3600));
}
