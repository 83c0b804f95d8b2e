// PostgreSQL connections for the stages: from DATABASE_URL or libpq's PG*
// variables, with failures turned into one-line errors that name the server
// but never the password.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { UserError, errorMessage } from './errors.ts';

export type PgClient = pg.Client;
export type PgClientConfig = pg.ClientConfig;

/** `user@host:port/database`: how messages name a server (no password, ever). */
export function describeTarget(client: pg.Client): string {
  return `${client.user ?? '?'}@${client.host ?? 'localhost'}:${client.port ?? 5432}/${client.database ?? '?'}`;
}

/** Removes any password from a text that might hold a connection string. */
export function redact(text: string): string {
  return text.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@').replace(/(password=)\S+/gi, '$1***');
}

/** `extra`: node-postgres settings beside the URL's, e.g. `replication: 'database'` for a walsender connection. */
export async function connect(databaseUrl: string | undefined, applicationName: string, extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  let client: pg.Client;
  let tls: TlsChoice;
  // node-postgres reads any other text as a socket path or key=value pairs and
  // would report a made-up host (DATABASE_URL=notaurl named host "base").
  if (databaseUrl && !/^postgres(ql)?:\/\//i.test(databaseUrl)) {
    throw new UserError('DATABASE_URL is not a postgres:// or postgresql:// URL (its value is not shown: it may hold a password): expected postgres://user:password@host:port/database, or leave it unset and use PGHOST, PGUSER, …');
  }
  try {
    const { url, params } = takeTlsParams(databaseUrl);
    const settings: pg.ClientConfig = {
      ...(url ? { connectionString: url } : {}),
      ...(params.sslnegotiation ? { sslnegotiation: params.sslnegotiation as pg.ClientConfig['sslnegotiation'] } : {}),
      application_name: applicationName,
      connectionTimeoutMillis: 15_000,
      // TCP keepalive: a connection a NAT, a firewall or a failed-over host dropped
      // without a word fails its query instead of waiting forever (the snapshot
      // coordinator sits idle for hours; its heartbeat catches what this does not).
      keepAlive: true,
      keepAliveInitialDelayMillis: 30_000,
      ...extra,
    };
    // The host as node-postgres resolves it (URL, ?host=, PGHOST, localhost): what the certificate must name.
    const host = new pg.Client({ ...settings, ssl: true }).host;
    tls = chooseTls(params, process.env, host);
    client = new pg.Client({ ...settings, ssl: tls.ssl });
  } catch (err) {
    if (err instanceof UserError) throw err;
    // A malformed URL (say, a non-numeric port): name the problem, never the URL, which may hold a password.
    throw new UserError(`DATABASE_URL is not a valid PostgreSQL connection URL (${redact(errorMessage(err))}): expected postgres://user:password@host:port/database`);
  }
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw connectionError(err, describeTarget(client), tls);
  }
  // A dropped connection must fail the query in flight, not crash the process.
  client.on('error', () => {});
  return client;
}

/**
 * Ends a session, or drops its socket when the server has not acknowledged
 * within `ms`: on a dead network client.end() waits for an answer that never
 * comes, and the open socket would keep a stopped stage from exiting.
 */
export async function endOrDrop(client: pg.Client, ms = 5_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), ms); });
  const ended = await Promise.race([client.end().then(() => 'ended' as const, () => 'ended' as const), late]);
  clearTimeout(timer);
  if (ended === 'late') (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
}

/**
 * libpq's sslmode values. `disable` (the default when neither a mode nor a CA
 * is given, as node-postgres does) sends no TLS; `verify-full` checks the
 * certificate's chain against the CA bundle and its name against the host;
 * `verify-ca` checks the chain only. `require`, `prefer` and `allow` verify
 * like `verify-full`, as node-postgres 8 treats them (stricter than libpq,
 * which would not verify): a migration never talks to an unverified server
 * unless asked with node-postgres's `no-verify`.
 */
const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'] as const;
type SslMode = (typeof SSL_MODES)[number];

/**
 * URL parameters that decide TLS. They are taken out of the URL before
 * node-postgres sees it: its parse of them would override the `ssl` given
 * here (and print a multi-line deprecation warning for `require`).
 */
const TLS_PARAMS = ['ssl', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslnegotiation', 'uselibpqcompat'];

/** The URL without its TLS parameters (the rest kept byte for byte), and those parameters decoded. */
function takeTlsParams(databaseUrl: string | undefined): { url: string | undefined; params: Record<string, string> } {
  const params: Record<string, string> = {};
  const q = databaseUrl?.indexOf('?') ?? -1;
  if (!databaseUrl || q < 0) return { url: databaseUrl, params };
  const kept: string[] = [];
  for (const pair of databaseUrl.slice(q + 1).split('&')) {
    // Decoded as URLSearchParams does, which is how node-postgres reads them.
    const [key, value] = [...new URLSearchParams(pair)][0] ?? ['', ''];
    if (pair.includes('=') && TLS_PARAMS.includes(key)) params[key] = value;
    else if (pair) kept.push(pair);
  }
  return { url: kept.length ? `${databaseUrl.slice(0, q)}?${kept.join('&')}` : databaseUrl.slice(0, q), params };
}

interface TlsChoice {
  ssl: false | ConnectionOptions;
  mode: SslMode;
  /** Where certificates are checked against, for messages. */
  trust: string;
}

/**
 * The `ssl` option for node-postgres from the URL's parameters, else libpq's
 * PGSSLMODE and PGSSLROOTCERT. A CA bundle without a mode means verify-full.
 */
function chooseTls(params: Record<string, string>, env: NodeJS.ProcessEnv, host: string): TlsChoice {
  const rootCert = params.sslrootcert || env.PGSSLROOTCERT || undefined;
  const legacy = params.ssl === 'true' || params.ssl === '1' ? 'require' : params.ssl === 'false' || params.ssl === '0' ? 'disable' : params.ssl;
  const modeText = params.sslmode || legacy || env.PGSSLMODE || (rootCert || params.sslcert ? 'verify-full' : 'disable');
  if (!(SSL_MODES as readonly string[]).includes(modeText)) {
    throw new UserError(`invalid sslmode ${JSON.stringify(modeText)}: use verify-full (or disable, require, verify-ca)`);
  }
  const mode = modeText as SslMode;
  // libpq sends no TLS over a Unix socket.
  if (mode === 'disable' || host.startsWith('/')) return { ssl: false, mode, trust: 'none' };
  const source = params.sslrootcert ? 'sslrootcert in DATABASE_URL' : 'PGSSLROOTCERT';
  // libpq's `sslrootcert=system`: the system's trusted roots (Node's bundle).
  const ca = rootCert && rootCert !== 'system' ? readPem(rootCert, source, 'CA bundle', 'CERTIFICATE') : undefined;
  const trust = ca ? `the CA bundle ${rootCert}` : "Node's trusted root CAs";
  const clientCert = {
    ...(params.sslcert ? { cert: readPem(params.sslcert, 'sslcert in DATABASE_URL', 'client certificate', 'CERTIFICATE') } : {}),
    ...(params.sslkey ? { key: readPem(params.sslkey, 'sslkey in DATABASE_URL', 'client key', 'PRIVATE KEY') } : {}),
  };
  if (mode === 'no-verify') return { ssl: { rejectUnauthorized: false, ...clientCert }, mode, trust: 'nothing (sslmode=no-verify)' };
  if (mode === 'verify-ca' && !ca) {
    throw new UserError('sslmode=verify-ca needs the server\'s CA bundle: sslrootcert=<file> in DATABASE_URL or PGSSLROOTCERT (or use verify-full, which also checks the host name)');
  }
  const ssl: ConnectionOptions = {
    rejectUnauthorized: true,
    ...(ca ? { ca } : {}),
    ...clientCert,
    // The name the certificate must hold. SNI may not carry an IP address (RFC 6066), so an
    // IP host is checked through `host` alone; node's check then wants it among the IP SANs.
    host,
    ...(net.isIP(host) ? {} : { servername: host }),
    ...(mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
  };
  return { ssl, mode, trust };
}

function readPem(file: string, source: string, what: string, marker: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read the ${what} ${file} (${source}): ${code === 'ENOENT' ? 'no such file' : code ?? errorMessage(err)}`);
  }
  if (!text.includes(`-----BEGIN `) || !text.includes(`${marker}-----`)) {
    throw new UserError(`the ${what} ${file} (${source}) holds no PEM ${marker.toLowerCase()}`);
  }
  return text;
}

/** OpenSSL's verify results that mean "no trusted CA signed this chain". */
const UNTRUSTED_CERT = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED', 'CERT_REJECTED',
]);

const CA_HINT = 'give the server\'s CA bundle with sslrootcert=<file> in DATABASE_URL or PGSSLROOTCERT (RDS publishes one: https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem)';

function tlsError(e: { code?: string; message?: string; cert?: { subjectaltname?: string; subject?: { CN?: string } } }, target: string, tls: TlsChoice): UserError | undefined {
  const code = e.code ?? '';
  if (UNTRUSTED_CERT.has(code)) {
    return new UserError(`PostgreSQL at ${target} presented a TLS certificate not signed by ${tls.trust} (${code}): ${CA_HINT}`);
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const names = e.cert?.subjectaltname ?? (e.cert?.subject?.CN ? `CN=${e.cert.subject.CN}` : 'other names');
    return new UserError(`PostgreSQL at ${target} presented a TLS certificate for ${names}, not for the host connected to (${code}, sslmode=${tls.mode}): connect by a name the certificate holds`);
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return new UserError(`PostgreSQL at ${target} presented a TLS certificate that is ${code === 'CERT_HAS_EXPIRED' ? 'expired' : 'not yet valid'} (${code})`);
  }
  if (/^ERR_(SSL|TLS)_/.test(code)) return new UserError(`TLS handshake with PostgreSQL at ${target} failed (${code})`);
  if (e.message === 'The server does not support SSL connections') {
    return new UserError(`PostgreSQL at ${target} does not accept TLS (its ssl setting is off), but sslmode=${tls.mode} requires it`);
  }
  // pg_hba.conf allows this client only over TLS ("hostssl"): the server says "no encryption".
  if (code === '28000' && /no encryption/.test(e.message ?? '')) {
    return new UserError(`PostgreSQL at ${target} accepts this connection only over TLS, and sslmode=${tls.mode} sends none: use sslmode=verify-full with the server's CA bundle (sslrootcert=<file> in DATABASE_URL or PGSSLROOTCERT)`);
  }
  return undefined;
}

function connectionError(err: unknown, target: string, tls: TlsChoice): UserError {
  const e = err as { code?: string; message?: string };
  const tlsFailure = tlsError(e, target, tls);
  if (tlsFailure) return tlsFailure;
  switch (e.code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
      return new UserError(`cannot reach PostgreSQL at ${target} (${e.code})`);
    case '28P01':
    case '28000':
      return new UserError(`PostgreSQL rejected the credentials for ${target} (${e.code}): check DATABASE_URL or PGUSER/PGPASSWORD`);
    case '3D000':
      return new UserError(`database does not exist at ${target} (3D000)`);
  }
  if (/password|SASL/i.test(e.message ?? '')) {
    return new UserError(`PostgreSQL asked for a password that was not given or was wrong for ${target}: check DATABASE_URL or PGPASSWORD`);
  }
  if (/timeout/i.test(e.message ?? '')) return new UserError(`cannot reach PostgreSQL at ${target} (timed out)`);
  return new UserError(`cannot connect to PostgreSQL at ${target}: ${redact(errorMessage(err))}`);
}

/** Quotes an identifier the way `quote_ident` would, always (names come from the catalog). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * Runs `work` inside a savepoint of the open transaction, rolled back after
 * it: the locks it took are released, those taken before are kept. Planning
 * a query locks its table's indexes until the transaction ends; an extract's
 * snapshot transaction lasts the whole run (hours, for a sharded one), and a
 * REINDEX waiting for such a lock holds every write of its table back. Only
 * for reads: what `work` wrote is undone.
 */
export async function releasingLocks<T>(client: PgClient, work: () => Promise<T>): Promise<T> {
  await client.query('SAVEPOINT releasing_locks');
  const result = await work();
  await client.query('ROLLBACK TO SAVEPOINT releasing_locks; RELEASE SAVEPOINT releasing_locks');
  return result;
}

/**
 * Session settings a value's text depends on, pinned so that COPY (extract)
 * and logical decoding (catchup) print the same text for the same value,
 * whatever the server's defaults. search_path decides how format_type() names
 * user types and keeps functions in other schemas from shadowing built-ins.
 * lc_monetary decides money's text and defaults to the server's locale; C
 * exists on every server and prints `$1,234.50`, as the C.UTF-8 default of
 * PostgreSQL 15 and 18 does (fixture dumps unchanged).
 */
export const VALUE_TEXT_SETTINGS: Readonly<Record<string, string>> = {
  TimeZone: 'UTC',
  DateStyle: 'ISO, YMD',
  IntervalStyle: 'iso_8601',
  extra_float_digits: '3',
  bytea_output: 'hex',
  client_encoding: 'UTF8',
  search_path: 'pg_catalog',
  standard_conforming_strings: 'on',
  statement_timeout: '0',
  lc_monetary: 'C',
};

/** Sets `settings` on the session, in one round trip. */
export async function pinSettings(client: PgClient, settings: Readonly<Record<string, string>>): Promise<void> {
  await client.query(Object.entries(settings).map(([name, value]) => `SET ${name} = ${quoteLiteral(value)};`).join('\n'));
}
