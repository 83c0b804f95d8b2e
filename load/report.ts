// `<run>/load/report.json`: what the load did, for people and for verify.
// Outside `<run>/items/` on purpose: ImportTable imports everything there.
import type { Storage } from '../lib/storage.ts';
import type { BatchWriteStats } from '../lib/batch-write.ts';
import type { ImportAttempt } from './import-attempts.ts';
import type { PruneResult } from './prune.ts';
import type { SettingsReport } from './table-settings.ts';
import { LOAD_REPORT_KEY } from '../lib/run-layout.ts';

export interface LoadTableReport {
  name: string;
  entity_type?: string;
  /** Items the transform manifest has for the table. */
  items: number;
  /** Items written (batch) — equal to `items` when the load succeeded. */
  written?: number;
  batch?: Omit<BatchWriteStats, 'written'>;
  prune?: PruneResult;
}

export interface LoadReport {
  format: 'pg2ddb.load/1';
  run_id: string;
  mode: 'import' | 'batch';
  table_name: string;
  table_arn?: string;
  /** The transform manifest this load read (its sha256). */
  transform_manifest_sha256: string;
  /** True when this load created the table (batch) or the import did. */
  created_table: boolean;
  started_at: string;
  finished_at: string;
  seconds: number;
  tables: LoadTableReport[];
  totals: { items: number; written?: number; bytes: number };
  import?: {
    import_arn?: string;
    client_token: string;
    resumed: boolean;
    /** Which attempt this load watched; a new one starts after a FAILED or CANCELLED import whose table is gone. */
    attempt: number;
    /** Every attempt, oldest first (also in load/import.json). */
    attempts: ImportAttempt[];
    status?: string;
    processed_items?: number;
    processed_bytes?: number;
    imported_items?: number;
    error_count?: number;
    failure_code?: string;
    failure_message?: string;
    cloudwatch_log_group?: string;
    first_errors?: string[];
  };
  settings?: SettingsReport;
  ok: boolean;
  problems: string[];
}

export async function writeLoadReport(run: Storage, report: LoadReport): Promise<void> {
  await run.put(LOAD_REPORT_KEY, `${JSON.stringify(report, null, 2)}\n`);
}
