import test from 'ava';
import { UNCHANGED, decodeMessage, lsnBytes } from './decode.ts';

/** A pgoutput message built byte by byte, as the protocol documents it. */
function message(parts: (string | number[] | Buffer)[]): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));
}
const int16 = (n: number) => { const b = Buffer.alloc(2); b.writeInt16BE(n); return b; };
const int32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
const int64 = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigInt64BE(n); return b; };
const text = (s: string) => Buffer.concat([Buffer.from('t'), int32(Buffer.byteLength(s)), Buffer.from(s, 'utf8')]);

test('an update with its old row keeps NULL, text and unchanged TOAST values apart', (t) => {
  const decoded = decodeMessage(message(['U', int32(16384), 'O', int16(3), text('1'), 'n', text('grüße'), 'N', int16(3), text('2'), 'n', 'u']));
  t.deepEqual(decoded, { kind: 'update', relationId: 16384, old: ['1', null, 'grüße'], row: ['2', null, UNCHANGED] });
});

test('a relation names its schema, table and columns in order', (t) => {
  const column = (name: string, key: number) => Buffer.concat([Buffer.from([key]), Buffer.from(`${name}\0`), int32(25), int32(-1)]);
  const decoded = decodeMessage(message(['R', int32(7), 'public\0', 'users\0', 'f', int16(2), column('id', 1), column('email', 0)]));
  t.deepEqual(decoded, { kind: 'relation', relation: { id: 7, schema: 'public', table: 'users', columns: ['id', 'email'], types: [{ oid: 25, typmod: -1 }, { oid: 25, typmod: -1 }] } });
});

test('begin and commit carry LSNs as PostgreSQL prints them and the commit time', (t) => {
  const begin = decodeMessage(message(['B', int64(0x1_0000_00A0n), int64(86_400_000_000n), int32(42)]));
  t.deepEqual(begin, { kind: 'begin', finalLsn: '1/A0', commitTime: new Date('2000-01-02T00:00:00Z'), xid: 42 });
  const commit = decodeMessage(message(['C', [0], int64(0x1_0000_00A0n), int64(0x1_0000_00D8n), int64(0n)]));
  t.deepEqual(commit, { kind: 'commit', commitLsn: '1/A0', endLsn: '1/D8' });
  t.is(lsnBytes('1/D8') - lsnBytes('1/A0'), 0x38);
});

test('a delete or an update whose old row is the identity\'s key columns only says so (keyOnly)', (t) => {
  const del = decodeMessage(message(['D', int32(5), 'K', int16(2), text('1'), 'n']));
  t.deepEqual(del, { kind: 'delete', relationId: 5, old: ['1', null], keyOnly: true });
  t.deepEqual(decodeMessage(message(['D', int32(5), 'O', int16(2), text('1'), text('a')])), { kind: 'delete', relationId: 5, old: ['1', 'a'] });
  const upd = decodeMessage(message(['U', int32(5), 'K', int16(2), text('1'), 'n', 'N', int16(2), text('2'), text('b')]));
  t.deepEqual(upd, { kind: 'update', relationId: 5, old: ['1', null], keyOnly: true, row: ['2', 'b'] });
});
