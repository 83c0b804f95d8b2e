// The floor of reading a table, for `make bench`: the parallel Scan verify
// runs (same segments, same consistency, whole items), with no comparison.
//   node --import tsx/esm bench/plain-scan.ts <table> <segments>   → prints the item count
import { dynamoClient } from '../lib/aws-dynamodb.ts';
import { parallelScan } from '../lib/parallel-scan.ts';

const [tableName, segments] = [process.argv[2]!, Number(process.argv[3] ?? 4)];
let items = 0;
await parallelScan({ client: dynamoClient(), tableName, segments, onPage: (page) => { items += page.length; } });
process.stdout.write(`${items}\n`);
