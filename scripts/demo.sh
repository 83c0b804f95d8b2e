#!/usr/bin/env bash
# `make demo`: boot the local stack, run every stage that exists end to end on
# the Serenya fixture database, and print what happened. The stack stays up
# afterwards so the run can be inspected; `make down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE=(node --import tsx/esm)

"${NODE[@]}" scripts/stack.ts up
set -a; . .local/env; set +a
export RUN=${RUN:-demo} TABLE=

echo
echo "== extract: PostgreSQL → $STORE/$RUN/extract/"
"${NODE[@]}" extract/cli.ts > .local/demo-extract.json

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
"${NODE[@]}" transform/cli.ts > .local/demo-transform.json

node - .local/demo-transform.json <<'JS'
const fs = require('node:fs');
const s = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const t = s.totals;
console.log(`\n${t.rows_in} rows → ${t.items_out} items, ${t.rejected} rejected (reasons in transform/rejects/), ${t.dropped} dropped; ${(t.raw_bytes / 1048576).toFixed(2)} MB of DynamoDB JSON, ${s.duplicates} duplicate keys`);
for (const x of s.tables) {
  const warnings = Object.values(x.warnings).reduce((a, b) => a + b, 0);
  console.log(`  ${x.name.padEnd(26)} ${String(x.rows_in).padStart(8)} rows ${String(x.items_out).padStart(8)} items ${String(x.rejected).padStart(4)} rejected${warnings ? `, ${warnings} value(s) kept as S` : ''}`);
}
console.log(s.ready_for_load ? '\nready for load' : `\nNOT ready for load: ${s.problems.join('; ')}`);
JS

echo
echo "load and verify are not built yet (issue 4)."
echo "The local stack is still up: 'set -a; . .local/env; set +a' to use it, 'make down' to stop it."
