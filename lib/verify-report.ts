// What verify leaves in the run (its report), which status reads too.


/** Strong (default) or eventually consistent reads: eventual halves the read units. */
export type Consistency = 'strong' | 'eventual';

export interface Check {
  name: string;
  ok: boolean;
  /** The numbers the verdict rests on. */
  numbers: Record<string, number>;
  /** What failed, by position / key hash (first 50). */
  failures: Record<string, unknown>[];
  note?: string;
}

export interface VerifyReport {
  format: 'pg2ddb.verify/1';
  run_id: string;
  table_name: string;
  checked_at: string;
  seconds: number;
  consistency: Consistency;
  /** Shards merged by finalize (absent: one process). */
  shards?: number;
  ok: boolean;
  /** The source tables a `TABLE=` verify checked; absent: every table. */
  tables?: string[];
  checks: Check[];
}
