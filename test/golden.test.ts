// Golden tests: the committed fixture dumps, transformed, equal fixtures/golden/.
// On a difference the failure shows the first differing item, field by field;
// `make golden` rewrites the files when the change is intended.
import test from 'ava';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { DUMPS_DIR } from '../scripts/dumps.ts';
import { GOLDEN_DIR, computeGolden, countRows } from '../scripts/golden.ts';

const SERENYA_TABLES = [
  'audit_event_summaries', 'audit_events', 'biometric_registrations', 'chat_messages', 'chat_options',
  'consent_records', 'payments', 'processing_job_events', 'processing_jobs', 'schema_versions',
  'serenya_content', 'subscription_tiers', 'subscriptions', 'user_devices', 'user_sessions', 'users',
];

const fresh = computeGolden();

async function committed(file: string): Promise<string | undefined> {
  return readFile(path.join(GOLDEN_DIR, file), 'utf8').catch(() => undefined);
}

function firstDifference(want: string, got: string): string {
  const a = want.split('\n');
  const b = got.split('\n');
  const i = a.findIndex((line, k) => line !== b[k]);
  const at = i < 0 ? a.length : i;
  return `line ${at + 1}:\n  golden: ${a[at] ?? '(none)'}\n  now:    ${b[at] ?? '(none)'}\n(${a.length - 1} golden lines, ${b.length - 1} now; run make golden if the change is intended)`;
}

for (const table of SERENYA_TABLES) {
  test(`golden: ${table}`, async (t) => {
    const golden = await fresh;
    for (const file of [`${table}.jsonl`, `${table}.rejects.jsonl`]) {
      const want = await committed(file);
      const got = golden.get(file);
      if (want === got) { t.pass(); continue; }
      t.fail(`fixtures/golden/${file} differs at ${firstDifference(want ?? '', got ?? '')}`);
    }
  });
}

test('golden: the summary, and every fixture row is an item or a named reject', async (t) => {
  const golden = await fresh;
  t.is(golden.get('summary.json'), await committed('summary.json'), 'fixtures/golden/summary.json (run make golden)');
  const summary = JSON.parse(golden.get('summary.json')!);
  t.deepEqual(summary.tables.map((x: { name: string }) => x.name), SERENYA_TABLES);
  for (const entry of summary.tables) {
    const rows = countRows(await readFile(path.join(DUMPS_DIR, `${entry.name}.csv`), 'utf8'));
    t.is(entry.rows_in, rows, `${entry.name}: every dump row was read`);
    t.is(entry.rows_in, entry.items_out + entry.rejected + entry.dropped, `${entry.name}: counts reconcile`);
    t.true(entry.items_out > 0, `${entry.name}: has items`);
    const items = golden.get(`${entry.name}.jsonl`)!.split('\n').filter(Boolean);
    t.is(items.length, entry.items_out);
    const rejects = (golden.get(`${entry.name}.rejects.jsonl`) ?? '').split('\n').filter(Boolean);
    t.is(rejects.length, entry.rejected);
    for (const line of rejects) t.like(JSON.parse(line), { table: entry.name });
  }
  const stale = (await readdir(GOLDEN_DIR)).filter((f) => !golden.has(f));
  t.deepEqual(stale, [], 'no stale golden files');
});
