#!/usr/bin/env bash
# `make demo`: boot the local stack, run every stage that exists end to end on
# the Serenya fixture database, and print what happened. The stack stays up
# afterwards so the run can be inspected; `make down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
# The stages run from the build (make demo installs it first); the stack is a development script, run from source.
NODE=(node --enable-source-maps)
node --import tsx/esm scripts/stack.ts up
set -a; . .local/env; set +a
# Each demo is a new run (and so a new table): ImportTable only creates tables.
export RUN=${RUN:-demo-$(date -u +%Y%m%d-%H%M%S)} TABLE=

# LIVE=1: the source stays writable; its changes after the snapshot are caught up from a replication slot.
LIVE=${LIVE:-}
FOLLOW_FLAG=()
if [ -n "$LIVE" ]; then
  echo
  echo "== live source: REPLICA IDENTITY FULL on every table (each delete and key change carries its old row)"
  node - <<'JS'
const pg = require('pg');
(async () => {
  const db = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await db.connect();
  const { rows } = await db.query(`SELECT format('ALTER TABLE %I.%I REPLICA IDENTITY FULL', n.nspname, c.relname) AS sql
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public' AND NOT c.relispartition`);
  for (const r of rows) await db.query(r.sql);
  console.log(`${rows.length} tables`);
  await db.end();
})();
JS
  FOLLOW_FLAG=(--follow)
fi

echo
echo "== extract: PostgreSQL → $STORE/$RUN/extract/${LIVE:+ (FOLLOW=1: from the snapshot of replication slot pg2ddb_<run>)}"
"${NODE[@]}" dist/extract/cli.js "${FOLLOW_FLAG[@]}" > .local/demo-extract.json

node - .local/demo-extract.json <<'JS'
const fs = require('node:fs');
const s = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const mb = (b) => (b / 1048576).toFixed(2);
console.log(`\nextracted ${s.tables.length} tables, ${s.rows} rows, ${mb(s.raw_bytes)} MB of CSV → ${mb(s.bytes)} MB gzip in ${s.seconds.toFixed(1)} s`);
console.log(`snapshot as of ${s.as_of}, PostgreSQL ${s.server_version}`);
for (const t of s.tables) console.log(`  ${t.name.padEnd(26)} ${String(t.rows).padStart(8)} rows ${mb(t.raw_bytes).padStart(9)} MB`);
console.log(`\nfiles and manifest: ${s.store}/extract/`);
JS
echo
echo "== transform: extract files → DynamoDB JSON items in $STORE/$RUN/items/"
"${NODE[@]}" dist/transform/cli.js > .local/demo-transform.json

node - .local/demo-transform.json <<'JS'
const fs = require('node:fs');
const s = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const t = s.totals;
console.log(`\n${t.rows_in} rows → ${t.items_out} items, ${t.rejected} rejected, ${t.dropped} dropped; ${(t.raw_bytes / 1048576).toFixed(2)} MB of DynamoDB JSON, ${s.duplicates} duplicate keys`);
// A reject is a row that did not become an item: say how many and where each table's reasons are.
const rejecting = s.tables.filter((x) => x.rejected > 0);
if (rejecting.length === 0) console.log('0 rejects: every row became an item (the fixture keeps production\'s NOT NULLs; rows that exercise rejects are the hostile fixture, fixtures/hostile/)');
else for (const x of rejecting) console.log(`  ${x.rejected} reject(s) in ${x.name}, each with its reason: ${process.env.STORE}/${process.env.RUN}/transform/rejects/${encodeURIComponent(x.name)}.jsonl`);
for (const x of s.tables) {
  const warnings = Object.values(x.warnings).reduce((a, b) => a + b, 0);
  console.log(`  ${x.name.padEnd(26)} ${String(x.rows_in).padStart(8)} rows ${String(x.items_out).padStart(8)} items ${String(x.rejected).padStart(4)} rejected${warnings ? `, ${warnings} value(s) kept as S` : ''}`);
}
console.log(s.ready_for_load ? '\nready for load' : `\nNOT ready for load: ${s.problems.join('; ')}`);
JS

export DDB_TABLE=${DDB_TABLE:-pg2ddb-$RUN} MODE=${MODE:-import}
echo
echo "== load: $STORE/$RUN/items/ → DynamoDB table $DDB_TABLE ($MODE mode, the stack's ImportTable endpoint)"
"${NODE[@]}" dist/load/cli.js --no-deletion-protection > .local/demo-load.json
echo
echo "== verify: counts, every item, no strays, access patterns vs SQL"
verify_status=0
"${NODE[@]}" dist/verify/cli.js > .local/demo-verify.json || verify_status=$?

node - .local/demo-extract.json .local/demo-transform.json .local/demo-load.json .local/demo-verify.json <<'JS'
const fs = require('node:fs');
const [e, t, l, v] = process.argv.slice(2).map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
const mb = (b) => `${(b / 1048576).toFixed(2)} MB`;
console.log('\n== summary');
console.log(`  extract    ${e.tables.length} tables, ${e.rows} rows, ${mb(e.raw_bytes)} CSV          ${e.seconds.toFixed(1)} s`);
console.log(`  transform  ${t.totals.items_out} items, ${t.totals.rejected} rejected${t.totals.rejected ? ' (transform/rejects/)' : ''}, ${mb(t.totals.raw_bytes)} JSON  ${t.seconds === undefined ? '' : `${t.seconds.toFixed(1)} s`}`);
console.log(`  load       ${l.totals.written ?? l.totals.imported ?? '?'} items into ${l.table} (${l.mode})          ${l.seconds.toFixed(1)} s`);
console.log(`  verify     ${v.checks.filter((c) => c.ok).length}/${v.checks.length} checks passed            ${v.seconds.toFixed(1)} s`);
for (const c of v.checks) console.log(`    ${c.ok ? 'PASS' : 'FAIL'} ${c.name}`);
JS
if [ -n "$LIVE" ] && [ "$verify_status" -eq 0 ]; then
  echo
  echo "== live: the application keeps writing (a user, a payment whose sort key moves, a deleted chat message)"
  node - <<'JS'
const pg = require('pg');
(async () => {
  const db = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await db.connect();
  await db.query(`INSERT INTO users (external_id, auth_provider, email, name, created_at, updated_at)
    SELECT 'demo-live', auth_provider, 'demo-live@example.test', 'Demo Live', now(), now() FROM users LIMIT 1`);
  await db.query(`UPDATE payments SET created_at = created_at + interval '1 second' WHERE id = (SELECT id FROM payments ORDER BY id LIMIT 1)`);
  await db.query(`DELETE FROM chat_messages WHERE id = (SELECT id FROM chat_messages ORDER BY id LIMIT 1)`);
  await db.end();
})();
JS
  echo
  echo "== catchup: the slot's changes → $DDB_TABLE (make catchup)"
  "${NODE[@]}" dist/catchup/cli.js > .local/demo-catchup.json
  echo
  echo "== cutover: writers stopped, drain, a fresh run verified against $DDB_TABLE (make cutover)"
  "${NODE[@]}" dist/catchup/cutover-cli.js --writers-stopped > .local/demo-cutover.json || verify_status=$?
  node - .local/demo-catchup.json .local/demo-cutover.json <<'JS'
const fs = require('node:fs');
const [c, x] = process.argv.slice(2).map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
console.log(`\n  catchup    ${c.transactions} transaction(s): ${c.writes.puts} put(s), ${c.writes.deletes} delete(s); lag ${c.before.lag_bytes} → ${c.after.lag_bytes} bytes`);
console.log(`  cutover    ${x.go ? 'GO' : 'NO-GO'}: fresh run ${x.fresh_run}, ${x.compared} items compared, ${x.differing} differing, ${x.stray} stray`);
JS
  echo
  echo "== the slot is dropped (make catchup ARGS=--drop-slot): the source keeps no WAL for this run"
  "${NODE[@]}" dist/catchup/cli.js --drop-slot > /dev/null
fi

echo
echo "The whole run as a table and report.html: make report RUN=$RUN; its cost in DynamoDB: make plan RUN=$RUN"
[ "$verify_status" -eq 0 ] || echo "verify FAILED: see .local/demo-verify.json"
echo "The local stack is still up: 'set -a; . .local/env; set +a' to use it, 'make down' to stop it."
exit "$verify_status"
