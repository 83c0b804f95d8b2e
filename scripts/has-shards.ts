// `make finalize`: exits 0 when the run's <stage>/shards/ holds shard fragments
// (that stage was sharded and needs finalize), 1 otherwise.
import { runStorage } from '../lib/config.ts';

const stage = process.argv[2];
if (stage !== 'extract' && stage !== 'transform' && stage !== 'verify') {
  process.stderr.write('usage: has-shards.ts extract|transform|verify (STORE and RUN from the environment)\n');
  process.exit(2);
}
const run = runStorage(process.env.STORE || './out', process.env.RUN || 'dev');
const fragments = (await run.list(`${stage}/shards`)).filter((o) => o.key.endsWith('.json'));
process.exit(fragments.length > 0 ? 0 : 1);
