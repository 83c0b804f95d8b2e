// A live run's publication as its catalog rows stand: the publication's own
// row and one row per table it holds, each by oid and the transaction that
// wrote it (xmin). extract FOLLOW=1 records it when it makes the publication;
// catchup compares before it trusts the slot. A publication altered and then
// put back (a table dropped and added again, `publish` narrowed and widened)
// reads the same by every other check, yet the changes made while it differed
// were never sent to the slot: only the rows' new xmin or oid tells.
import type { PgClient } from './postgres.ts';

/** The publication's state, or undefined when it does not exist. */
export async function publicationState(client: PgClient, publication: string): Promise<string | undefined> {
  const { rows: [row] } = await client.query<{ state: string }>(
    `SELECT p.oid::text || ':' || p.xmin::text || ';' || coalesce((SELECT string_agg(r.oid::text || ':' || r.xmin::text, ',' ORDER BY r.oid)
              FROM pg_publication_rel r WHERE r.prpubid = p.oid), '') AS state
       FROM pg_publication p WHERE p.pubname = $1`,
    [publication],
  );
  return row?.state;
}
