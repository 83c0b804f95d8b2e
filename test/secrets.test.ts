// Issue 5, secrets and PII: a full pipeline (extract → transform → load batch
// → verify) on the fixture database, as a role with a distinctive password in
// DATABASE_URL, plus the error paths that see that URL. Every stdout and stderr
// and every file the run writes is searched for the password and the fixture's
// personal values; none may appear.
//
// The rule: files that hold data (extract parts, item files, rejects, the
// per-unit key and reject files, duplicates.jsonl: values by design, the point
// of the migration) may hold personal values; everything else (logs, manifests,
// unit records, load and verify reports) may not. The password may appear nowhere.
import test from 'ava';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { parseString } from 'fast-csv';
import { REPO, runCli, type CliResult } from './cli.ts';
import { recordFault } from './fault-table.ts';
import { freshDatabase, randomName, stackEnv } from './stack.ts';

const PASSWORD = 'Sekr1t-Pa55';

/** Personal values of the fixture: emails, names, external ids, token hashes, payment references. */
async function piiValues(): Promise<string[]> {
  const columns: Record<string, string[]> = {
    'users.csv': ['email', 'external_id', 'name', 'given_name', 'family_name'],
    'user_sessions.csv': ['refresh_token_hash', 'access_token_hash'],
    'payments.csv': ['provider_transaction_id'],
  };
  const values = new Set<string>();
  for (const [file, wanted] of Object.entries(columns)) {
    const text = await readFile(path.join(REPO, 'fixtures', 'dumps', file), 'utf8');
    const rows = await new Promise<Record<string, string>[]>((resolve, reject) => {
      const out: Record<string, string>[] = [];
      parseString(text, { headers: true }).on('data', (r: Record<string, string>) => out.push(r)).on('end', () => resolve(out)).on('error', reject);
    });
    for (const row of rows) {
      for (const column of wanted) {
        // Short values ("Ada", "L.") would match ordinary words; four characters or more are distinctive enough.
        const value = row[column];
        if (value && value.length >= 4) values.add(value);
      }
    }
  }
  return [...values];
}

/** Data files: the values the migration carries. */
const isData = (file: string) =>
  /^extract\/.+\.csv\.gz$/.test(file) || file.startsWith('items/') || file.startsWith('transform/rejects/')
  || /^transform\/units\/.+\.(keys|rejects\.jsonl)$/.test(file) || file === 'transform/duplicates.jsonl';

async function runFiles(dir: string): Promise<{ file: string; text: string }[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const out: { file: string; text: string }[] = [];
  for (const e of entries.filter((x) => x.isFile())) {
    const full = path.join(e.parentPath, e.name);
    const bytes = await readFile(full);
    out.push({ file: path.relative(dir, full), text: (e.name.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8') });
  }
  return out;
}

test('no password, email, name or token appears in any output or non-data file of a full run', async (t) => {
  t.timeout(90_000);
  const env = stackEnv();
  const admin = new pg.Client({ connectionString: env.PG_ADMIN_URL });
  await admin.connect();
  const role = randomName('migrator_');
  await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${PASSWORD}'`);
  // Teardowns run last-registered first: the database goes before its role.
  t.teardown(async () => { await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {}); await admin.end(); });
  const url = await freshDatabase(t);
  const owner = new pg.Client({ connectionString: url });
  await owner.connect();
  await owner.query(`GRANT USAGE ON SCHEMA public TO ${role}; GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
  await owner.end();
  const secretUrl = new URL(url);
  secretUrl.username = role;
  secretUrl.password = PASSWORD;
  const databaseUrl = secretUrl.href;
  t.true(databaseUrl.includes(PASSWORD));

  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-secrets-'));
  const common = { ...env, DATABASE_URL: databaseUrl, STORE: store, RUN: 'r', DDB_TABLE: randomName('secrets_'), MODE: 'batch' };
  const outputs: { what: string; result: CliResult }[] = [];
  const stage = async (what: string, script: string, args: string[], extra: Record<string, string> = {}) => {
    const result = await runCli(script, args, { ...common, ...extra });
    outputs.push({ what, result });
    return result;
  };
  // The whole pipeline, with its logs (not --quiet).
  t.is((await stage('extract', 'extract/cli.ts', [])).code, 0);
  t.is((await stage('transform', 'transform/cli.ts', [])).code, 0);
  t.is((await stage('load', 'load/cli.ts', ['--no-ttl', '--no-deletion-protection'])).code, 0);
  const verify = await stage('verify', 'verify/cli.ts', []);
  t.is(verify.code, 0, verify.stderr);
  // Error paths that hold the URL: a database that does not exist, a closed port, a malformed port, a wrong password.
  const errors: [string, string][] = [
    ['missing database', Object.assign(new URL(databaseUrl), { pathname: '/no_such_db' }).href],
    ['closed port', Object.assign(new URL(databaseUrl), { port: '1' }).href],
    ['malformed port', databaseUrl.replace(/:(\d+)\//, ':port$1/')],
    ['wrong password', databaseUrl.replace(PASSWORD, `${PASSWORD}-x`)],
  ];
  // A server with trust authentication (the machine's PostgreSQL 15 in CI) accepts any password:
  // there the wrong-password runs succeed, and their outputs are still scanned.
  const checksPasswords = await new pg.Client({ connectionString: errors[3]![1] }).connect().then((c) => c.end().then(() => false), () => true);
  for (const [what, bad] of errors) {
    const result = await stage(`extract, ${what}`, 'extract/cli.ts', [], { DATABASE_URL: bad, RUN: 'bad' });
    if (what === 'wrong password' && !checksPasswords) continue;
    t.is(result.code, 1, `${what}: ${result.stderr}`);
    t.regex(result.stderr, /^extract: error: [^\n]+\n$/, `${what}: one line`);
  }
  // Verify connects the same way (lib/postgres.ts); once is enough to cover its own messages.
  const verifyBad = await stage('verify, wrong password', 'verify/cli.ts', [], { DATABASE_URL: errors[3]![1] });
  if (checksPasswords) t.not(verifyBad.code, 0, 'verify with a wrong password fails');

  const pii = await piiValues();
  t.true(pii.length > 50, `${pii.length} personal values to look for`);
  t.true(pii.some((v) => v.includes('@')), 'emails among them');
  const leaks = (text: string) => [PASSWORD, ...pii].filter((value) => text.includes(value));
  for (const { what, result } of outputs) {
    t.deepEqual(leaks(result.stdout), [], `${what}: stdout`);
    t.deepEqual(leaks(result.stderr), [], `${what}: stderr`);
  }
  const files = await runFiles(path.join(store, 'r'));
  const scanned = files.filter((f) => !isData(f.file));
  for (const file of ['extract/manifest.json', 'transform/manifest.json', 'load/report.json', 'load/verify.json']) {
    t.true(scanned.some((f) => f.file === file), `${file} is scanned`);
  }
  for (const { file, text } of scanned) t.deepEqual(leaks(text), [], file);
  // The password is in no file at all, data included.
  for (const { file, text } of files) t.false(text.includes(PASSWORD), `${file}: password`);
  // The data files do carry the personal values (the scan would see them).
  t.true(files.some((f) => isData(f.file) && pii.some((v) => f.text.includes(v))));
  const found = outputs.flatMap(({ result }) => [...leaks(result.stdout), ...leaks(result.stderr)]).length
    + scanned.flatMap((f) => leaks(f.text)).length + files.filter((f) => f.text.includes(PASSWORD)).length;
  recordFault(t, {
    fault: 'password in DATABASE_URL, PII in data', stage: 'extract, transform, load, verify',
    outcome: found === 0 ? `no secret or PII in ${outputs.length} outputs and ${scanned.length} files` : `${found} leak(s) found`,
  });
});
