// CPU profile helper for the transform's per-row path (not a test, not a bench
// figure): maps every row of one table of a run in-process as transformUnit
// does (a CSV part from its bytes, a Parquet part from its rows), without line
// order, compression or workers, and prints rows/s. Use with `node --cpu-prof`;
// PARSE_ONLY=1 only splits the records.
//   node --import tsx/esm bench/transform-cpu.ts <store> <run> <table>
import { readExtractManifest } from '../lib/manifest.ts';
import { openStorage } from '../lib/storage.ts';
import { ItemBuilder, isReject } from '../model/item.ts';
import { mapTables } from '../model/table-mapping.ts';
import { ByteBuffer } from '../lib/byte-buffer.ts';
import { readRecords, readRows } from '../transform/unit.ts';
import { JoinCache, resolveJoins } from '../transform/join-cache.ts';
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
const line = new ByteBuffer();
for (const unit of units) {
  if (unit.part.key.endsWith('.parquet')) {
    await readRows(run, tableName!, unit.part, (row, n) => {
      rows++;
      if (process.env.PARSE_ONLY) return;
      const item = builder.build(row, n);
      if ('line' in item) bytes += item.line.length + 1;
    });
    continue;
  }
  await readRecords(run, tableName!, unit.part, (record, n) => {
    rows++;
    if (process.env.PARSE_ONLY) return;
    line.length = 0;
    if (!isReject(builder.buildRecord(record, n, line))) bytes += line.length;
  });
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const used = process.cpuUsage(cpu);
const cpuSeconds = (used.user + used.system) / 1e6;
console.log(`${tableName}: ${rows} rows in ${seconds.toFixed(2)} s wall, ${cpuSeconds.toFixed(2)} s CPU = ${Math.round(rows / cpuSeconds)} rows per CPU-second, ${(mapping.table.raw_bytes / 1e6 / seconds).toFixed(1)} MB/s of CSV, ${(bytes / 1e6).toFixed(0)} MB JSON`);
