import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../lib/errors.ts';
import type { ExtractManifest, TableEntry } from '../lib/manifest.ts';
import { mapTables } from './table-mapping.ts';

const things: TableEntry = {
  name: 'things', schema: 'public', table: 'things', as_of: '2026-01-01T00:00:00.000000Z', snapshot_id: 's',
  columns: [{ name: 'id', type: 'integer', category: 'N', nullable: false }, { name: 'expires', type: 'bigint', category: 'N', nullable: true }],
  primary_key: ['id'], order_by: ['id'], rows: 0, raw_bytes: 0, bytes: 0, parts: [],
};

test('a mapper the table cannot be built with (a ttl on a bigint column) is refused when the tables are mapped, as a user\'s error naming its file: transform, catchup and verify all map first', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-mapping-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  await writeFile(path.join(dir, 'things.ts'), "export default { table: 'things', entityType: 'thing', key: { pk: 'THING#{id}', sk: 'ROW' }, ttl: 'expires' };\n");
  const err = await t.throwsAsync(mapTables({ tables: [things] } as unknown as ExtractManifest, 'fail', dir));
  t.true(err instanceof UserError, err?.stack);
  t.is(err!.message, `${path.join(dir, 'things.ts')}: mapper things: ttl names things.expires, of type bigint; ttl takes a timestamp or date column ` +
    '(its instant becomes the epoch seconds DynamoDB expires the item at): name one, or drop ttl');
});
