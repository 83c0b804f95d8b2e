// PostgreSQL connections for the stages: from DATABASE_URL or libpq's PG*
// variables, with failures turned into one-line errors that name the server
// but never the password.
import pg from 'pg';
import { UserError, errorMessage } from './errors.ts';

export type PgClient = pg.Client;

/** `user@host:port/database`: how messages name a server (no password, ever). */
export function describeTarget(client: pg.Client): string {
  return `${client.user ?? '?'}@${client.host ?? 'localhost'}:${client.port ?? 5432}/${client.database ?? '?'}`;
}

/** Removes any password from a text that might hold a connection string. */
export function redact(text: string): string {
  return text.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@').replace(/(password=)\S+/gi, '$1***');
}

export async function connect(databaseUrl: string | undefined, applicationName: string): Promise<pg.Client> {
  let client: pg.Client;
  try {
    client = new pg.Client({
      ...(databaseUrl ? { connectionString: databaseUrl } : {}),
      application_name: applicationName,
      connectionTimeoutMillis: 15_000,
    });
  } catch (err) {
    // A malformed URL (say, a non-numeric port): name the problem, never the URL, which may hold a password.
    throw new UserError(`DATABASE_URL is not a valid PostgreSQL connection URL (${redact(errorMessage(err))}): expected postgres://user:password@host:port/database`);
  }
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw connectionError(err, describeTarget(client));
  }
  // A dropped connection must fail the query in flight, not crash the process.
  client.on('error', () => {});
  return client;
}

function connectionError(err: unknown, target: string): UserError {
  const e = err as { code?: string; message?: string };
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
