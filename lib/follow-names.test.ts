import test from 'ava';
import { followNames } from './follow-names.ts';

test('run ids that differ only in characters a slot name cannot hold get slots of their own', (t) => {
  const slots = ['live-1', 'live_1', 'Live_1', 'live.1'].map((run) => followNames(run).slot);
  t.is(new Set(slots).size, slots.length, slots.join(', '));
  for (const slot of slots) t.regex(slot, /^[a-z0-9_]{1,63}$/);
  t.is(followNames('live_1').slot, 'pg2ddb_live_1');
  t.is(followNames(`x${'-'.repeat(120)}`).slot.length, 63);
});
