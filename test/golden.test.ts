// Golden tests: the committed fixture dumps, transformed, equal fixtures/golden/
// (realistic: no rejects) and fixtures/hostile/golden/ (every reject reason).
// On a difference the failure shows the first differing item, field by field;
// `make golden` rewrites the files when the change is intended. With MODEL=dir
// the realistic fixture is compared with that model's `<dir>/golden/`.
import test from 'ava';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { FixtureKind } from '../fixtures/hostile.ts';
import { dumpsDir } from '../scripts/dumps.ts';
import { modelDir } from '../model/registry.ts';
import { computeGolden, countRows, goldenDir } from '../scripts/golden.ts';

const SERENYA_TABLES = [
  'audit_event_summaries', 'audit_events', 'biometric_registrations', 'chat_messages', 'chat_options',
  'consent_records', 'payments', 'processing_job_events', 'processing_jobs', 'schema_versions',
  'serenya_content', 'subscription_tiers', 'subscriptions', 'user_devices', 'user_sessions', 'users',
];

/** The selected model (MODEL=dir), or undefined for the shipped one. */
const model = modelDir(process.env.MODEL);
const KINDS: FixtureKind[] = model ? ['realistic'] : ['realistic', 'hostile'];
const fresh = Object.fromEntries(KINDS.map((kind) => [kind, computeGolden(kind, model)])) as Record<FixtureKind, Promise<Map<string, string>>>;
const where = (kind: FixtureKind) => (model ? goldenDir(kind, model) : kind === 'hostile' ? 'fixtures/hostile/golden' : 'fixtures/golden');

async function committed(kind: FixtureKind, file: string): Promise<string | undefined> {
  return readFile(path.join(goldenDir(kind, model), file), 'utf8').catch(() => undefined);
}

function firstDifference(want: string, got: string): string {
  const a = want.split('\n');
  const b = got.split('\n');
  const i = a.findIndex((line, k) => line !== b[k]);
  const at = i < 0 ? a.length : i;
  return `line ${at + 1}:\n  golden: ${a[at] ?? '(none)'}\n  now:    ${b[at] ?? '(none)'}\n(${a.length - 1} golden lines, ${b.length - 1} now; run make golden if the change is intended)`;
}

for (const kind of KINDS) {
  for (const table of SERENYA_TABLES) {
    test(`golden (${kind}): ${table}`, async (t) => {
      const golden = await fresh[kind];
      for (const file of [`${table}.jsonl`, `${table}.rejects.jsonl`]) {
        const want = await committed(kind, file);
        const got = golden.get(file);
        if (want === got) { t.pass(); continue; }
        t.fail(`${where(kind)}/${file} differs at ${firstDifference(want ?? '', got ?? '')}`);
      }
    });
  }

  test(`golden (${kind}): the summary, and every fixture row is an item or a named reject`, async (t) => {
    const golden = await fresh[kind];
    t.is(golden.get('summary.json'), await committed(kind, 'summary.json'), `${where(kind)}/summary.json (run make golden)`);
    const summary = JSON.parse(golden.get('summary.json')!);
    t.deepEqual(summary.tables.map((x: { name: string }) => x.name), SERENYA_TABLES);
    for (const entry of summary.tables) {
      const rows = countRows(await readFile(path.join(dumpsDir(kind), `${entry.name}.csv`)));
      t.is(entry.rows_in, rows, `${entry.name}: every dump row was read`);
      t.is(entry.rows_in, entry.items_out + entry.rejected + entry.dropped, `${entry.name}: counts reconcile`);
      t.true(entry.items_out > 0, `${entry.name}: has items`);
      const items = golden.get(`${entry.name}.jsonl`)!.split('\n').filter(Boolean);
      t.is(items.length, entry.items_out);
      const rejects = (golden.get(`${entry.name}.rejects.jsonl`) ?? '').split('\n').filter(Boolean);
      t.is(rejects.length, entry.rejected);
      for (const line of rejects) t.like(JSON.parse(line), { table: entry.name });
    }
    const stale = (await readdir(goldenDir(kind, model))).filter((f) => !golden.has(f));
    t.deepEqual(stale, [], 'no stale golden files');
  });
}

// The shipped model's fixture properties (the hostile fixture is made for its keys).
if (!model) test('golden: the realistic fixture has no rejects; the hostile one has every reject reason', async (t) => {
  const realistic = JSON.parse((await fresh.realistic).get('summary.json')!);
  t.deepEqual(realistic.tables.filter((x: { rejected: number }) => x.rejected > 0).map((x: { name: string }) => x.name), []);
  t.true(realistic.ready_for_load);
  const hostile = await fresh.hostile;
  const reasons = [...hostile].filter(([file]) => file.endsWith('.rejects.jsonl'))
    .flatMap(([, text]) => text.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { reason: string }).reason));
  // Each way a row fails to become an item (model/item.ts, join-index.ts, model/item-size.ts).
  const kinds: [string, RegExp][] = [
    ['a NULL key part', /: \w+ is NULL$/],
    ['an empty key part', /: \w+ is empty$/],
    ['a key part too wide for its pad', /is not a whole number of at most \d+ digits$/],
    ['a join key that is NULL', /joins \w+ on \w+, which is NULL$/],
    ['a joined row without the value', /row with id = .* has no \w+ \(is (NULL|empty)\)$/],
    ['an item over 400 KB', /over the 400 KB limit$/],
  ];
  for (const [what, pattern] of kinds) t.true(reasons.some((r) => pattern.test(r)), what);
});
