import test from 'ava';
import type { PgClient } from '../lib/postgres.ts';
import type { SourceTable } from './catalog.ts';
import { lockForCopy, lockSnapshotTables } from './table-locks.ts';

// A cluster whose OID counter passed 2^31 (every TOASTed value takes an OID) gives its new tables and types
// OIDs above it: `oid::int` reads them negative, the protocol's RowDescription unsigned.
const TABLE_OID = 3_000_000_007;
const ENUM_OID = 3_000_000_002;
const table: SourceTable = { name: 't', schema: 'public', table: 't', oid: TABLE_OID | 0, partitioned: false };

/** A server answering the checks' queries as that cluster does, for a table (id int, m an enum) unchanged since the snapshot. */
function server(probeType = ENUM_OID): PgClient {
  const query = async (text: string) => {
    // checkColumns' snapshot read (the type checks' reads of pg_attribute find no enum, composite or row type here).
    if (text.includes('AS new_expression')) {
      return { rows: [{ oid: TABLE_OID | 0, name: 'id', attnum: 1, type: 23, new_expression: false }, { oid: TABLE_OID | 0, name: 'm', attnum: 2, type: ENUM_OID | 0, new_expression: false }], fields: [] };
    }
    if (text.startsWith('SELECT tableoid FROM')) return { rows: [], fields: [{ tableID: TABLE_OID, columnID: -6, dataTypeID: 26 }] };
    if (text.startsWith('SELECT "id", "m" FROM')) return { rows: [], fields: [{ tableID: TABLE_OID, columnID: 1, dataTypeID: 23 }, { tableID: TABLE_OID, columnID: 2, dataTypeID: probeType }] };
    return { rows: [], fields: [] };
  };
  return { query } as unknown as PgClient;
}

test('tables and types of OIDs above 2^31 pass the lock\'s checks (the catalog\'s oid::int is signed, the protocol\'s unsigned)', async (t) => {
  await t.notThrowsAsync(lockSnapshotTables(server(), [table], 30));
  await t.notThrowsAsync(lockForCopy(server(), table));
  // A type that did change is still refused.
  await t.throwsAsync(lockSnapshotTables(server(ENUM_OID + 1), [table], 30), { message: /^table t had columns renamed, dropped, added or changed in type/ });
});
