import test from 'ava';
import * as layout from './run-layout.ts';
import { extractPartKey, qualifiedName, rejectsFileKey, tableSegment } from './run-layout.ts';

test('ordinary names and keys are unchanged: public tables bare, others schema.table', (t) => {
  t.is(qualifiedName('public', 'users'), 'users');
  t.is(qualifiedName('audit', 'events'), 'audit.events');
  t.is(extractPartKey('audit.events', 3), 'extract/audit.events/part-00003.csv.gz');
  t.is(extractPartKey('users', 0, 'parquet'), 'extract/users/part-00000.parquet');
  t.is(rejectsFileKey('user sessions'), 'transform/rejects/user%20sessions.jsonl');
});

test('a dot or percent sign inside a schema or table name is escaped, so qualified names never collide', (t) => {
  const names = [
    qualifiedName('public', 'audit.events'), qualifiedName('audit', 'events'),
    qualifiedName('a.b', 'c'), qualifiedName('a', 'b.c'), qualifiedName('public', 'a%2Eb'), qualifiedName('public', 'a.b'),
  ];
  t.deepEqual(names, ['audit%2Eevents', 'audit.events', 'a%2Eb.c', 'a.b%2Ec', 'a%252Eb', 'a%2Eb']);
  t.is(new Set(names.map(tableSegment)).size, names.length);
});

test('a storage segment is never a directory name the file system would resolve', (t) => {
  t.is(tableSegment('.'), '%2E');
  t.is(tableSegment('..'), '%2E%2E');
  t.is(tableSegment('a/b'), 'a%2Fb');
});

// Every key of a run, from the one module. Runs already written are read by
// these exact strings: a change here is a format change, not a refactor.
test('every key of a run, for tables `a.b` and `users`', (t) => {
  const shard = { index: 1, count: 3 };
  const keys: Record<string, string> = {
    run_report: layout.RUN_REPORT_KEY,
    report_html: layout.REPORT_HTML_KEY,
    plan_json: layout.PLAN_JSON_KEY,
    plan_html: layout.PLAN_HTML_KEY,
    extract_write_check: layout.writeCheckKey('extract'),
    extract_manifest: layout.EXTRACT_MANIFEST_KEY,
    extract_plan: layout.EXTRACT_PLAN_KEY,
    extract_fragment: layout.extractFragmentKey(shard),
    transform_write_check: layout.writeCheckKey('transform'),
    transform_manifest: layout.TRANSFORM_MANIFEST_KEY,
    transform_units: layout.TRANSFORM_UNITS_KEY,
    transform_fragment: layout.transformFragmentKey(shard),
    map_results: layout.MAP_RESULTS_KEY,
    duplicates: layout.DUPLICATES_KEY,
    load_write_check: layout.writeCheckKey('load'),
    load_report: layout.LOAD_REPORT_KEY,
    import_record: layout.IMPORT_RECORD_KEY,
    loaded: layout.loadedKey('serenya'),
    verify_report: layout.VERIFY_REPORT_KEY,
    verify_fragment: layout.verifyFragmentKey(shard),
    verify_table_keys: layout.shardFileKey(shard, 'table'),
    verify_run_keys: layout.shardFileKey(shard, 'run'),
  };
  for (const table of ['a.b', 'users']) {
    keys[`${table} extract part`] = layout.extractPartKey(table, 12);
    keys[`${table} extract parquet`] = layout.extractPartKey(table, 12, 'parquet');
    keys[`${table} items`] = layout.itemsPrefix(table);
    keys[`${table} items gzip`] = layout.itemsKey(table, 12);
    keys[`${table} items zstd`] = layout.itemsKey(table, 12, 'zstd');
    keys[`${table} items none`] = layout.itemsKey(table, 12, 'none');
    keys[`${table} unit`] = layout.unitKey(table, 12);
    keys[`${table} unit rejects`] = layout.rejectsKey(table, 12);
    keys[`${table} unit keys`] = layout.keysKey(table, 12);
    keys[`${table} rejects`] = layout.rejectsFileKey(table);
    keys[`${table} loaded keys`] = layout.loadedKeysDir('serenya', table);
  }
  t.deepEqual(keys, {
    run_report: 'report.json',
    report_html: 'report.html',
    plan_json: 'plan/plan.json',
    plan_html: 'plan/plan.html',
    extract_write_check: 'extract/.write-check',
    extract_manifest: 'extract/manifest.json',
    extract_plan: 'extract/plan.json',
    extract_fragment: 'extract/shards/shard-0001-of-0003.json',
    transform_write_check: 'transform/.write-check',
    transform_manifest: 'transform/manifest.json',
    transform_units: 'transform/units.json',
    transform_fragment: 'transform/shards/shard-0001-of-0003.json',
    map_results: 'transform/map-results',
    duplicates: 'transform/duplicates.jsonl',
    load_write_check: 'load/.write-check',
    load_report: 'load/report.json',
    import_record: 'load/import.json',
    loaded: 'load/loaded/serenya.json',
    verify_report: 'load/verify.json',
    verify_fragment: 'verify/shards/shard-0001-of-0003.json',
    verify_table_keys: 'verify/shards/shard-0001-of-0003.table',
    verify_run_keys: 'verify/shards/shard-0001-of-0003.run',
    'a.b extract part': 'extract/a.b/part-00012.csv.gz',
    'a.b extract parquet': 'extract/a.b/part-00012.parquet',
    'a.b items': 'items/a.b',
    'a.b items gzip': 'items/a.b/part-00012.json.gz',
    'a.b items zstd': 'items/a.b/part-00012.json.zst',
    'a.b items none': 'items/a.b/part-00012.json',
    'a.b unit': 'transform/units/a.b/part-00012.json',
    'a.b unit rejects': 'transform/units/a.b/part-00012.rejects.jsonl',
    'a.b unit keys': 'transform/units/a.b/part-00012.keys',
    'a.b rejects': 'transform/rejects/a.b.jsonl',
    'a.b loaded keys': 'load/keys/serenya/a.b',
    'users extract part': 'extract/users/part-00012.csv.gz',
    'users extract parquet': 'extract/users/part-00012.parquet',
    'users items': 'items/users',
    'users items gzip': 'items/users/part-00012.json.gz',
    'users items zstd': 'items/users/part-00012.json.zst',
    'users items none': 'items/users/part-00012.json',
    'users unit': 'transform/units/users/part-00012.json',
    'users unit rejects': 'transform/units/users/part-00012.rejects.jsonl',
    'users unit keys': 'transform/units/users/part-00012.keys',
    'users rejects': 'transform/rejects/users.jsonl',
    'users loaded keys': 'load/keys/serenya/users',
  });
});

test('loaded keys differ from a table segment only for `.` and `..`, which no extracted table is named', (t) => {
  for (const table of ['users', 'a.b', 'user sessions', 'a%2Eb', 'a/b']) t.is(layout.loadedKeysDir('t', table), `load/keys/t/${tableSegment(table)}`);
  t.is(layout.loadedKeysDir('t', '..'), 'load/keys/t/..');
});
