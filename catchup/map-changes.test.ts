import test from 'ava';
import { ChangeMapper, KeyStates, templatePrefix } from './map-changes.ts';

const known = (values: Record<string, string>) => (name: string) => values[name];

test("a key template renders up to the first value the join cannot give", (t) => {
  t.deepEqual(templatePrefix('USER#{user_id}', known({ user_id: 'u1' })), { text: 'USER#u1', complete: true });
  t.deepEqual(templatePrefix('BIOMETRIC#{device_id}#{biometric_type}', known({ device_id: 'd1' })), { text: 'BIOMETRIC#d1#', complete: false });
  // Padding is the mapper's business: a padded value ends the prefix rather than guess its width.
  t.deepEqual(templatePrefix('ORDER#{display_order:4}#{category}', known({ display_order: '7' })), { text: 'ORDER#', complete: false });
});

const item = (pk: string, row: (string | null)[]) => ({ kind: 'put' as const, pk, sk: 'S', item: { v: { S: JSON.stringify(row) } } });
const outcome = (keys: KeyStates) => Object.fromEntries([...keys.writes().values()].map((w) => [w.pk, w.kind === 'put' ? w.item.v!.S : 'delete']));

test('an item key rows pass through in one batch ends as the rows holding it at the end leave it', (t) => {
  // UPDATE slots SET pos = pos + 1 under a DEFERRABLE key: row 1 takes key 2 before row 2 leaves it.
  const shift = new KeyStates();
  for (const [pos, label] of [[1, 'a'], [2, 'b'], [3, 'c']] as const) {
    shift.remove(`K${pos}`, 'S', [String(pos), label]);
    shift.put(item(`K${pos + 1}`, [String(pos + 1), label]), [String(pos + 1), label]);
  }
  t.deepEqual(outcome(shift), { K1: 'delete', K2: '["2","a"]', K3: '["3","b"]', K4: '["4","c"]' });
  // Rows of equal values: whichever left, the item the key keeps is the same (here the table's, untouched).
  const same = new KeyStates();
  for (const pos of [1, 2]) {
    same.remove(`K${pos}`, 'S', [String(pos)]);
    same.put(item(`K${pos + 1}`, [String(pos + 1)]), [String(pos + 1)]);
  }
  t.deepEqual(outcome(same), { K1: 'delete', K3: '["3"]' });
  // A row through a key and out again, an update in place, a delete then an insert of the same key.
  const chain = new KeyStates();
  chain.remove('K1', 'S', ['1', 'x']);
  chain.put(item('K100', ['100', 'x']), ['100', 'x']);
  chain.remove('K100', 'S', ['100', 'x']);
  chain.put(item('K2', ['2', 'x']), ['2', 'x']);
  chain.remove('K5', 'S', ['5', 'old']);
  chain.put(item('K5', ['5', 'new']), ['5', 'new']);
  chain.remove('K6', 'S', ['6', 'gone']);
  chain.put(item('K6', ['6', 'back']), ['6', 'back']);
  t.deepEqual(outcome(chain), { K1: 'delete', K2: '["2","x"]', K5: '["5","new"]', K6: '["6","back"]' });
});

test('review: a key A→B→A in one batch, two rows swapping keys, an insert and delete of one row, a delete and re-insert of equal values', (t) => {
  // Row x at A (in the table) goes to B and back: A ends put, B (never in the table) untouched.
  const back = new KeyStates();
  back.remove('A', 'S', ['A', 'x']);
  back.put(item('B', ['B', 'x']), ['B', 'x']);
  back.remove('B', 'S', ['B', 'x']);
  back.put(item('A', ['A', 'x']), ['A', 'x']);
  t.deepEqual(outcome(back), { A: '["A","x"]' });
  // Rows x (at A) and y (at B) swap under a deferrable key: both keys end put with the other row.
  const swap = new KeyStates();
  swap.remove('A', 'S', ['A', 'x']);
  swap.put(item('B', ['B', 'x']), ['B', 'x']);
  swap.remove('B', 'S', ['B', 'y']);
  swap.put(item('A', ['A', 'y']), ['A', 'y']);
  t.deepEqual(outcome(swap), { A: '["A","y"]', B: '["B","x"]' });
  // A row inserted and deleted in one batch leaves nothing; a row deleted and re-inserted with equal values is put.
  const gone = new KeyStates();
  gone.put(item('C', ['C']), ['C']);
  gone.remove('C', 'S', ['C']);
  gone.remove('D', 'S', ['D']);
  gone.put(item('D', ['D']), ['D']);
  t.deepEqual(outcome(gone), { D: '["D"]' });
});

test('a TRUNCATE of a table the slot sends but the run does not hold (its publication gained a schema) is refused naming that table, not an oid', async (t) => {
  const mapper = new ChangeMapper([], {} as never, async () => []);
  const relation = { id: 16400, schema: 'other', table: 'x', columns: ['id'], types: [{ oid: 23, typmod: -1 }] };
  await t.throwsAsync(mapper.map([
    { kind: 'begin', finalLsn: '0/10', commitTime: new Date(), xid: 1 },
    { kind: 'relation', relation },
    { kind: 'truncate', relationIds: [16400] },
    { kind: 'commit', commitLsn: '0/10', endLsn: '0/18' },
  ]), { message: "the slot sent changes of table other.x, which run's extract does not hold" });
});
