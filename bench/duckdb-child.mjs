// The DuckDB side of bench/duckdb-same-job.ts, in a process of its own: runs
// one SQL file with N threads. Plain JavaScript, so the baseline pays no tsx
// start-up, as our side (the build's dist/) pays none.
//   node bench/duckdb-child.mjs <sql file> <threads>
import { readFile } from 'node:fs/promises';
import { DuckDBInstance } from '@duckdb/node-api';

const [sqlFile, threads] = process.argv.slice(2);
const instance = await DuckDBInstance.create(':memory:', { threads });
const connection = await instance.connect();
await connection.run(await readFile(sqlFile, 'utf8'));
connection.closeSync();
