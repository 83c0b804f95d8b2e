// Issue 5, transport: TLS to PostgreSQL with sslmode=verify-full and a CA
// bundle. The test starts a PostgreSQL of its own (the stack's embedded
// binaries, scripts/stack/postgres.ts) and turns on ssl with a throwaway CA and
// a server certificate for DNS:localhost made with openssl; its pg_hba.conf
// then lets TCP clients in over TLS only (hostssl). The server is stopped and
// its directory removed when the file's tests end.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readExtractManifest } from '../lib/manifest.ts';
import { connect } from '../lib/postgres.ts';
import { openStorage } from '../lib/storage.ts';
import { stackPaths } from '../scripts/stack/paths.ts';
import { startEmbeddedPostgres } from '../scripts/stack/postgres.ts';
import { liveServiceGroup, stopGroup } from '../scripts/stack/process-group.ts';
import { runCli } from './cli.ts';

/** A role with a distinctive password, which no message may show. */
const USER = 'migrator';
const PASSWORD = 'Tls-Sekr1t-Pa55';
const DATABASE = 'tlsdb';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg2ddb-tls-'));
// The server runs as `postgres` when the tests run as root: it must reach its data dir.
fs.chmodSync(dir, 0o755);
const paths = stackPaths(path.join(dir, 'stack'));
const certs = path.join(dir, 'certs');
const rightCa = path.join(certs, 'ca.pem');
const wrongCa = path.join(certs, 'other-ca.pem');
let port = 0;

/** A URL for the TLS server as `host`, with these query parameters. */
function url(host: string, query = ''): string {
  return `postgres://${USER}:${PASSWORD}@${host}:${port}/${DATABASE}${query ? `?${query}` : ''}`;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: certs, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A self-signed CA: <name>.pem and <name>.key. */
function makeCa(name: string, commonName: string): void {
  fs.writeFileSync(path.join(certs, `${name}.cnf`), [
    '[req]', 'distinguished_name = dn', 'x509_extensions = ext', 'prompt = no',
    '[dn]', `CN = ${commonName}`,
    '[ext]', 'basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash',
  ].join('\n'));
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-config', `${name}.cnf`, '-keyout', `${name}.key`, '-out', `${name}.pem`]);
}

/** server.crt for DNS:localhost only (not 127.0.0.1), signed by ca.pem; server.key. */
function makeServerCert(): void {
  fs.writeFileSync(path.join(certs, 'server.ext'), [
    'subjectAltName = DNS:localhost', 'basicConstraints = CA:FALSE',
    'keyUsage = critical,digitalSignature,keyEncipherment', 'extendedKeyUsage = serverAuth',
  ].join('\n'));
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr']);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '2', '-days', '2',
    '-extfile', 'server.ext', '-out', 'server.crt']);
}

test.before(async () => {
  fs.mkdirSync(certs);
  makeCa('ca', 'pg2ddb test CA');
  makeCa('other-ca', 'pg2ddb other CA');
  makeServerCert();

  const server = await startEmbeddedPostgres(paths);
  port = Number(new URL(server.adminUrl).port);
  const admin = await connect(server.adminUrl, 'pg2ddb-test');
  try {
    await admin.query(`CREATE ROLE ${USER} LOGIN PASSWORD '${PASSWORD}'`);
    await admin.query(`CREATE DATABASE ${DATABASE} OWNER ${USER}`);
  } finally {
    await admin.end();
  }
  const owner = await connect(url('127.0.0.1'), 'pg2ddb-test');
  try {
    await owner.query('CREATE TABLE things (id int PRIMARY KEY, name text NOT NULL)');
    await owner.query("INSERT INTO things VALUES (1, 'one'), (2, 'two'), (3, 'three')");
  } finally {
    await owner.end();
  }

  // The key must belong to the server's user and be private, or PostgreSQL refuses it.
  const { uid, gid } = fs.statSync(paths.pgDataDir);
  for (const file of ['server.crt', 'server.key']) {
    const target = path.join(paths.pgDataDir, file);
    fs.copyFileSync(path.join(certs, file), target);
    fs.chmodSync(target, 0o600);
    fs.chownSync(target, uid, gid);
  }
  fs.writeFileSync(path.join(paths.pgDataDir, 'pg_hba.conf'), [
    'local all all scram-sha-256',
    'hostssl all all 127.0.0.1/32 scram-sha-256',
    'hostssl all all ::1/128 scram-sha-256',
    '',
  ].join('\n'));
  const superuser = await connect(server.adminUrl, 'pg2ddb-test');
  try {
    await superuser.query('ALTER SYSTEM SET ssl = on');
    // ssl and pg_hba.conf take effect on reload; the session already open stays as it is.
    await superuser.query('SELECT pg_reload_conf()');
  } finally {
    await superuser.end();
  }
});

test.after.always(async () => {
  const pgid = liveServiceGroup(paths, 'postgres');
  if (pgid !== undefined) await stopGroup(pgid, 'SIGINT');
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The error connect() ends with, as the one line a user would read. */
async function connectError(databaseUrl: string): Promise<string> {
  const client = await connect(databaseUrl, 'pg2ddb-test').catch((err: Error) => err);
  if (!(client instanceof Error)) {
    await client.end();
    throw new Error('connected, but should not have');
  }
  return client.message;
}

function assertOneLineWithoutPassword(t: { true(v: boolean, m?: string): void; false(v: boolean, m?: string): void }, message: string): void {
  t.false(message.includes(PASSWORD), message);
  t.false(message.includes('\n'), message);
  t.true(message.includes(`${USER}@`), `names the server: ${message}`);
}

test('verify-full with the right CA bundle in DATABASE_URL: extract connects over TLS and copies the table', async (t) => {
  const store = path.join(dir, 'store-url');
  const databaseUrl = url('localhost', `sslmode=verify-full&sslrootcert=${encodeURIComponent(rightCa)}`);
  const run = await runCli('extract/cli.ts', ['--quiet'], { DATABASE_URL: databaseUrl, STORE: store, RUN: 'r' });
  t.is(run.code, 0, run.stderr);
  // node-postgres's multi-line deprecation warning for sslmode is not printed: the parameters are read here.
  t.false(run.stderr.includes('SECURITY WARNING'), run.stderr);
  const manifest = (await readExtractManifest(openStorage(store).sub('r')))!;
  t.deepEqual(manifest.tables.map((e) => [e.name, e.rows]), [['things', 3]]);

  const client = await connect(databaseUrl, 'pg2ddb-test');
  try {
    const { rows } = await client.query<{ ssl: boolean; version: string }>('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    t.true(rows[0]!.ssl, 'the session is encrypted');
    t.regex(rows[0]!.version, /^TLSv1\.[23]$/);
  } finally {
    await client.end();
  }
});

test('verify-full from libpq\'s PGSSLMODE and PGSSLROOTCERT, with a plain DATABASE_URL: extract connects', async (t) => {
  const store = path.join(dir, 'store-env');
  const run = await runCli('extract/cli.ts', ['--quiet'], {
    DATABASE_URL: url('localhost'), PGSSLMODE: 'verify-full', PGSSLROOTCERT: rightCa, STORE: store, RUN: 'r',
  });
  t.is(run.code, 0, run.stderr);
  t.is((await readExtractManifest(openStorage(store).sub('r')))!.tables[0]!.rows, 3);
});

test('a CA bundle that did not sign the server\'s certificate: extract exits 1 with one line naming the server and the bundle', async (t) => {
  const run = await runCli('extract/cli.ts', ['--quiet'], {
    DATABASE_URL: url('localhost', `sslmode=verify-full&sslrootcert=${wrongCa}`), STORE: path.join(dir, 'store-wrong'), RUN: 'r',
  });
  t.is(run.code, 1);
  const lines = run.stderr.trim().split('\n');
  t.is(lines.length, 1, run.stderr);
  t.regex(lines[0]!, new RegExp(`PostgreSQL at ${USER}@localhost:${port}/${DATABASE} presented a TLS certificate not signed by the CA bundle ${wrongCa} \\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\\)`));
  t.false(run.stderr.includes(PASSWORD));
  t.false(fs.existsSync(path.join(dir, 'store-wrong', 'r', 'extract', 'manifest.json')));
});

test('verify-full checks the host name: the right CA but 127.0.0.1, which the certificate does not name, fails clearly', async (t) => {
  const message = await connectError(url('127.0.0.1', `sslmode=verify-full&sslrootcert=${rightCa}`));
  t.regex(message, new RegExp(`PostgreSQL at ${USER}@127\\.0\\.0\\.1:${port}/${DATABASE} presented a TLS certificate for DNS:localhost, not for the host connected to \\(ERR_TLS_CERT_ALTNAME_INVALID`));
  assertOneLineWithoutPassword(t, message);
});

test('verify-full without a CA bundle trusts only Node\'s root CAs, which did not sign a private CA\'s certificate', async (t) => {
  const message = await connectError(url('localhost', 'sslmode=verify-full'));
  t.regex(message, /not signed by Node's trusted root CAs \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\): give the server's CA bundle with sslrootcert=/);
  assertOneLineWithoutPassword(t, message);
});

test('verify-ca checks the chain but not the name: the right CA connects to 127.0.0.1; a wrong CA does not', async (t) => {
  const client = await connect(url('127.0.0.1', `sslmode=verify-ca&sslrootcert=${rightCa}`), 'pg2ddb-test');
  await client.end();
  t.regex(await connectError(url('127.0.0.1', `sslmode=verify-ca&sslrootcert=${wrongCa}`)), /not signed by the CA bundle/);
});

test('sslmode=disable against a server that takes TCP clients over TLS only fails clearly', async (t) => {
  const message = await connectError(url('localhost', 'sslmode=disable'));
  t.is(message, `PostgreSQL at ${USER}@localhost:${port}/${DATABASE} accepts this connection only over TLS, and sslmode=disable sends none: use sslmode=verify-full with the server's CA bundle (sslrootcert=<file> in DATABASE_URL or PGSSLROOTCERT)`);
  assertOneLineWithoutPassword(t, message);
});

test('a missing or non-PEM CA bundle and an unknown sslmode are refused before connecting, naming the file or the value', async (t) => {
  t.is(await connectError(url('localhost', 'sslrootcert=/nonexistent/ca.pem')), 'cannot read the CA bundle /nonexistent/ca.pem (sslrootcert in DATABASE_URL): no such file');
  t.is(await connectError(url('localhost', `sslrootcert=${path.join(certs, 'server.ext')}`)), `the CA bundle ${path.join(certs, 'server.ext')} (sslrootcert in DATABASE_URL) holds no PEM certificate`);
  t.is(await connectError(url('localhost', 'sslmode=verify_full')), 'invalid sslmode "verify_full": use verify-full (or disable, require, verify-ca)');
  t.is(await connectError(url('localhost', 'sslmode=verify-ca')), 'sslmode=verify-ca needs the server\'s CA bundle: sslrootcert=<file> in DATABASE_URL or PGSSLROOTCERT (or use verify-full, which also checks the host name)');
});
