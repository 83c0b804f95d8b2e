// Access patterns of a model of one's own, on schemas unlike Serenya's: verify
// traces every answering item back to its source row by the primary key its
// `data` holds, whatever the key's type.
import test from 'ava';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { runExtract } from '../extract/extract.ts';
import { runLoad } from '../load/load.ts';
import { runVerify } from '../verify/verify.ts';
import { DEFAULT_SETTINGS } from '../model/table-spec.ts';
import { runTransform } from '../transform/runner.ts';
import { freshDatabase, randomName } from './stack.ts';

const quiet = () => {};

async function sql(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** A model directory with one entity per table: key `<TABLE>#{…primary key}` / `ROW`, and a pattern querying it. */
async function modelOf(entities: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-patterns-model-'));
  await writeFile(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  for (const [table, text] of Object.entries(entities)) await writeFile(path.join(dir, `${table}.ts`), text);
  return dir;
}

const byKey = (table: string, pk: string, extra = '') => `export default {
  table: ${JSON.stringify(table)}, entityType: ${JSON.stringify(table)},
  key: { pk: ${JSON.stringify(pk)}, sk: 'ROW' },${extra}
  accessPatterns: [{ name: ${JSON.stringify(`${table} by key`)} }],
};
`;

async function pipeline(databaseUrl: string, entities: string) {
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-patterns-run-'));
  await runExtract({ databaseUrl, store, run: 'r', concurrency: 2, schemas: ['public'], gzipLevel: 1, log: quiet });
  await runTransform({ store, run: 'r', concurrency: 1, gzipLevel: 1, unmapped: 'fail', dropExpired: false, entities, log: quiet });
  const tableName = randomName('patterns_');
  await runLoad({ store, run: 'r', tableName, mode: 'batch', concurrency: 2, settings: { ...DEFAULT_SETTINGS, deletionProtection: false, ttl: false }, log: quiet });
  return runVerify({ store, run: 'r', tableName, concurrency: 2, databaseUrl, sampleSize: 20, entities, log: quiet });
}

test('items keyed by timestamp, date, numeric, integer, text, uuid and composite primary keys trace back to their rows', async (t) => {
  const databaseUrl = await freshDatabase(t, { load: false });
  await sql(databaseUrl, `
    CREATE TABLE ts_pk (t timestamptz PRIMARY KEY, v text);
    INSERT INTO ts_pk VALUES ('2024-01-02 03:04:05.123+00', 'a'), ('2024-05-06 07:08:09+02', 'b');
    CREATE TABLE tsn_pk (t timestamp PRIMARY KEY, v text);
    INSERT INTO tsn_pk VALUES ('2024-01-02 03:04:05.5', 'a'), ('2023-01-01 00:00:00', 'b'), ('infinity', 'c');
    CREATE TABLE date_pk (d date PRIMARY KEY);
    INSERT INTO date_pk VALUES ('2024-01-02'), ('2023-12-31');
    CREATE TABLE num_pk (n numeric PRIMARY KEY);
    INSERT INTO num_pk VALUES (1.50), (2), (1e20);
    CREATE TABLE "Odd Name" ("Id" uuid PRIMARY KEY, "a b" int);
    INSERT INTO "Odd Name" VALUES ('11111111-1111-1111-1111-111111111111', 1), ('22222222-2222-2222-2222-222222222222', 2);
    CREATE TABLE comp (a bigint, b text, PRIMARY KEY (a, b));
    INSERT INTO comp VALUES (1, 'x'), (1, 'y y'), (2, 'x#');
    CREATE TABLE flag_pk (f boolean PRIMARY KEY, h bytea);
    INSERT INTO flag_pk VALUES (true, '\\x00ff'), (false, NULL);
    CREATE TABLE bin_pk (h bytea PRIMARY KEY);
    INSERT INTO bin_pk VALUES ('\\x00ff'), ('\\x');
  `);
  const entities = await modelOf({
    ts_pk: byKey('ts_pk', 'TS#{t}'),
    tsn_pk: byKey('tsn_pk', 'TSN#{t}'),
    date_pk: byKey('date_pk', 'D#{d}'),
    num_pk: byKey('num_pk', 'N#{n}'),
    'Odd Name': byKey('Odd Name', 'ODD#{Id}'),
    comp: byKey('comp', 'COMP#{a}#{b}'),
    flag_pk: byKey('flag_pk', 'F#{f}'),
    bin_pk: byKey('bin_pk', 'B#{hex}', "\n  computed: { hex: (row) => (row('h') || '').slice(2) || 'empty' },"),
  });
  const report = await pipeline(databaseUrl, entities);
  const patterns = report.checks.filter((c) => c.name.startsWith('access pattern: '));
  t.is(patterns.length, 8);
  for (const check of patterns) {
    t.true(check.ok, `${check.name}: ${JSON.stringify(check)}`);
    t.is(check.numbers.mismatches, 0, check.name);
    t.true(check.numbers.samples! > 0, check.name);
  }
});

test('an access pattern whose rows are all expired passes on them as samples that must not answer; all rejected passes with a note saying so; none in its index fails, saying so', async (t) => {
  const databaseUrl = await freshDatabase(t, { load: false });
  await sql(databaseUrl, `
    CREATE TABLE sessions (id int PRIMARY KEY, token text, expires_at timestamptz);
    INSERT INTO sessions VALUES (1, 'a', now() - interval '2 days'), (2, 'b', now() - interval '1 day'), (3, NULL, now() + interval '1 day');
    CREATE TABLE notes (id int PRIMARY KEY, body text);
    INSERT INTO notes VALUES (1, ''), (2, '');
    CREATE TABLE tags (id int PRIMARY KEY, label text);
    INSERT INTO tags VALUES (1, NULL), (2, NULL);
  `);
  const entities = await modelOf({
    // Session 3 has no token, so no GSI1 key; 1 and 2 have expired.
    sessions: byKey('sessions', 'S#{id}', "\n  ttl: 'expires_at',\n  indexes: { GSI1: { pk: 'TOKEN#{token}', sk: 'S' } },")
      .replace("accessPatterns: [{ name: \"sessions by key\" }]", "accessPatterns: [{ name: 'session by token', index: 'GSI1' }]"),
    // Every note is rejected: its key part is empty.
    notes: byKey('notes', 'NOTE#{body}'),
    // No tag is in GSI1.
    tags: byKey('tags', 'TAG#{id}', "\n  indexes: { GSI1: { pk: 'LABEL#{label}', sk: 'T' } },")
      .replace("accessPatterns: [{ name: \"tags by key\" }]", "accessPatterns: [{ name: 'tag by label', index: 'GSI1' }]"),
  });
  const report = await pipeline(databaseUrl, entities);
  const check = (name: string) => report.checks.find((c) => c.name === `access pattern: ${name}`)!;
  t.like(check('session by token'), { ok: true, numbers: { samples: 2, answers: 0, mismatches: 0 } });
  t.is(check('session by token').note, undefined);
  t.like(check('notes by key'), { ok: true, numbers: { samples: 0, mismatches: 0 }, note: 'no row has an item to query: of 2 source row(s), 2 rejected, 0 not in the table' });
  t.like(check('tag by label'), { ok: false, numbers: { samples: 0 }, note: 'no row has an item to query: of 2 source row(s), 0 rejected, 2 not in GSI1' });
});

// DynamoDB applies a query's Limit before its filter: a user's newest session expired, so "newest first,
// Limit 1" (filtering out expired items, as apps do) returned nothing, and verify failed the user's live,
// older session as "not returned" on a table holding every item right. And a GSI's sort keys may tie:
// rows past the Limit among equal sort keys were failed the same way.
test('a Limit counts the items DynamoDB evaluated, expired ones filtered out included, and rows tied with the last one may lie past it', async (t) => {
  const databaseUrl = await freshDatabase(t, { load: false });
  await sql(databaseUrl, `
    CREATE TABLE sessions (id int PRIMARY KEY, user_id int, started int, expires_at timestamptz);
    INSERT INTO sessions VALUES (1, 1, 1, now() + interval '1 day'), (2, 1, 2, now() - interval '1 day'), (3, 2, 1, now() + interval '1 day');
    CREATE TABLE events (id int PRIMARY KEY, kind text);
    INSERT INTO events SELECT g, 'k' FROM generate_series(1, 5) g;
  `);
  const entities = await modelOf({
    sessions: `export default {
  table: 'sessions', entityType: 'sessions', ttl: 'expires_at',
  key: { pk: 'USER#{user_id}', sk: 'SESSION#{started:4}' },
  accessPatterns: [{ name: "a user's latest session", newestFirst: true, limit: 1 }],
};
`,
    events: `export default {
  table: 'events', entityType: 'events',
  key: { pk: 'EVENT#{id}', sk: 'ROW' },
  indexes: { GSI1: { pk: 'KIND#{kind}', sk: 'E' } },
  accessPatterns: [{ name: 'two events of a kind', index: 'GSI1', limit: 2 }],
};
`,
  });
  const report = await pipeline(databaseUrl, entities);
  const check = (name: string) => report.checks.find((c) => c.name === `access pattern: ${name}`)!;
  t.like(check("a user's latest session"), { ok: true, numbers: { samples: 3, mismatches: 0 } }, JSON.stringify(check("a user's latest session")));
  t.like(check('two events of a kind'), { ok: true, numbers: { samples: 5, mismatches: 0 } }, JSON.stringify(check('two events of a kind')));
});
