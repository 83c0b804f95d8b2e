// The names of a live run's slot and publication: extract creates them
// (FOLLOW=1), catchup reads and drops them.
import { createHash } from 'node:crypto';

/**
 * `pg2ddb_<run>`, lower case, within PostgreSQL's 63-byte names. A run id that
 * does not fit as it is (upper case, '-', '.', too long) keeps a hash of itself:
 * runs `a-b`, `a_b` and `A.b` must never share a slot, since an extract drops
 * a leftover slot of its name and --drop-slot drops the run's.
 */
export function followNames(run: string): { slot: string; publication: string } {
  let name = `pg2ddb_${run.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
  if (name !== `pg2ddb_${run}` || name.length > 63) name = `${name.slice(0, 54)}_${createHash('sha256').update(run).digest('hex').slice(0, 8)}`;
  return { slot: name, publication: name };
}
