// CPU profile helper for the transform's per-row path (not a test, not a bench
// figure): decodes and maps every row of one table of a run in-process, without
// gzip or workers, and prints rows/s. Use with `node --cpu-prof`.
//   node --import tsx/esm bench/transform-cpu.ts <store> <run> <table>
import { readExtractManifest } from '../lib/manifest.ts';
import { openStorage } from '../lib/storage.ts';
import { ItemBuilder } from '../model/item.ts';
import { mapTables } from '../model/table-mapping.ts';
import { JoinCache, readRows, resolveJoins } from '../transform/unit.ts';
import { unitsOf } from '../transform/units.ts';

const [store, runId, tableName] = process.argv.slice(2);
const run = openStorage(store!).sub(runId!);
const extract = (await readExtractManifest(run))!;
const mappings = await mapTables(extract, 'fail');
const mapping = mappings.find((p) => p.table.name === tableName)!;
const options = { gzipLevel: 1, unmapped: 'fail' as const, dropExpired: false };
const units = unitsOf(mapping, extract, options, mappings);
const joins = await resolveJoins(units[0]!, new JoinCache(run, extract));
const builder = new ItemBuilder(mapping.mapper!.mapper, mapping.table, joins);
let rows = 0;
let bytes = 0;
const started = process.hrtime.bigint();
const cpu = process.cpuUsage();
for (const unit of units) {
  await readRows(run, tableName!, unit.part, (row, n) => {
    if (process.env.PARSE_ONLY) { rows++; return; }
    const item = builder.build(row, n);
    rows++;
    if ('line' in item) bytes += item.line.length;
  });
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const used = process.cpuUsage(cpu);
const cpuSeconds = (used.user + used.system) / 1e6;
console.log(`${tableName}: ${rows} rows in ${seconds.toFixed(2)} s wall, ${cpuSeconds.toFixed(2)} s CPU = ${Math.round(rows / cpuSeconds)} rows per CPU-second, ${(mapping.table.raw_bytes / 1e6 / seconds).toFixed(1)} MB/s of CSV, ${(bytes / 1e6).toFixed(0)} MB JSON`);
