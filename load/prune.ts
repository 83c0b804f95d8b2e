// `--prune` (batch mode, one table rerun): delete the table's items that the
// run no longer has (rows deleted in the source since the last load). A dry
// run counts the same items in dry-run.ts.
//
// Which items are the table's? Not "every item of its entity_type": a table
// another run or tool loaded (a generic table `user` beside the users mapper's
// `user`) carries the same entity_type, and prune would delete all of it. An
// item is stale only when all three hold: a load of this run recorded putting
// its key there for this table (loaded-keys.ts), the table's current items do
// not have that key, and the item in DynamoDB still has the table's
// entity_type. The first alone bounds prune to keys this table put there, so
// it can never reach an item no load of this table wrote; the entity_type
// check keeps it off a key another table has since overwritten.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Logger } from '../lib/log.ts';
import { batchWrite, type SizedWrite } from '../lib/batch-write.ts';
import { itemKey, keyHash } from '../lib/item-files.ts';
import { keyRecord } from './loaded-keys.ts';
import { parallelScan } from '../lib/parallel-scan.ts';
import { PRIMARY_KEY } from '../model/table.ts';

export interface PruneResult {
  entity_type: string;
  /** Items of the entity found in the table. */
  in_table: number;
  /** Of those, loaded earlier for this table and not in the run: deleted. */
  stale: number;
  deleted: number;
  dry_run: false;
  /** Hashes of the stale keys (first 20), to look items up without printing them. */
  stale_key_hashes: string[];
}

export async function pruneEntity(
  client: Pick<DynamoDBClient, 'send'>, tableName: string, entityType: string,
  keys: { run: Set<string>; loadedBefore: Set<string> },
  opts: { concurrency: number; log: Logger },
): Promise<PruneResult> {
  const stale: Record<string, { S: string }>[] = [];
  let inTable = 0;
  await parallelScan({
    client, tableName, segments: opts.concurrency,
    input: {
      ProjectionExpression: '#pk, #sk',
      FilterExpression: '#type = :type',
      ExpressionAttributeNames: { '#pk': PRIMARY_KEY.partition, '#sk': PRIMARY_KEY.sort, '#type': 'entity_type' },
      ExpressionAttributeValues: { ':type': { S: entityType } },
    },
    onPage: (items) => {
      for (const item of items) {
        inTable++;
        const record = keyRecord(itemKey(item as Record<string, { S?: string }>));
        if (keys.loadedBefore.has(record) && !keys.run.has(record)) stale.push(item as Record<string, { S: string }>);
      }
    },
  });
  let deleted = 0;
  if (stale.length > 0) {
    async function* deletes(): AsyncGenerator<SizedWrite> {
      // A key is at most 3 KB (2048 + 1024 bytes): its size never decides a batch.
      for (const key of stale) yield { request: { DeleteRequest: { Key: key } }, bytes: 0 };
    }
    deleted = (await batchWrite(deletes(), { client, tableName, concurrency: opts.concurrency })).written;
  }
  opts.log(`prune ${entityType}: ${inTable} item(s) in the table, ${stale.length} loaded earlier for this table and not in the run, ${deleted} deleted`);
  return {
    entity_type: entityType, in_table: inTable, stale: stale.length, deleted, dry_run: false,
    stale_key_hashes: stale.slice(0, 20).map((k) => keyHash(itemKey(k))),
  };
}
