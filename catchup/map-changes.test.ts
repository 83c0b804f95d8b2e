import test from 'ava';
import { templatePrefix } from './map-changes.ts';

const known = (values: Record<string, string>) => (name: string) => values[name];

test("a key template renders up to the first value the join cannot give", (t) => {
  t.deepEqual(templatePrefix('USER#{user_id}', known({ user_id: 'u1' })), { text: 'USER#u1', complete: true });
  t.deepEqual(templatePrefix('BIOMETRIC#{device_id}#{biometric_type}', known({ device_id: 'd1' })), { text: 'BIOMETRIC#d1#', complete: false });
  // Padding is the mapper's business: a padded value ends the prefix rather than guess its width.
  t.deepEqual(templatePrefix('ORDER#{display_order:4}#{category}', known({ display_order: '7' })), { text: 'ORDER#', complete: false });
});
