// `<run>/report.json`: every stage appends what it did (timings, counts,
// warnings), so one file tells the whole run: extract → transform → load →
// verify. It holds wall-clock times, so it lives outside the deterministic
// manifests and outside items/. Counts and names only: no row values.
import type { Storage } from './storage.ts';
import { RUN_REPORT_KEY } from './run-layout.ts';

export type StageName = 'extract' | 'transform' | 'load' | 'verify';

export interface StageRecord {
  stage: StageName;
  finished_at: string;
  seconds: number;
  ok: boolean;
  /** `TABLE=` when the stage ran for some tables only. */
  tables_selected?: string[];
  /** Headline totals (rows, items, rejected, bytes…). */
  totals: Record<string, number>;
  /** verify: each check and its verdict. */
  checks?: { name: string; ok: boolean }[];
  /** Per table counts, by table name. */
  tables: Record<string, Record<string, number>>;
  warnings: string[];
}

export interface RunReport {
  format: 'pg2ddb.report/1';
  run_id: string;
  stages: StageRecord[];
}

export async function readRunReport(run: Storage): Promise<RunReport | undefined> {
  const text = await run.getText(RUN_REPORT_KEY);
  return text === undefined ? undefined : (JSON.parse(text) as RunReport);
}

/** Appends one stage's record (stages run one after another on a run, so read-then-write is enough). */
export async function appendRunReport(run: Storage, runId: string, record: Omit<StageRecord, 'finished_at'>): Promise<void> {
  const report = (await readRunReport(run)) ?? { format: 'pg2ddb.report/1', run_id: runId, stages: [] };
  report.stages.push({ ...record, finished_at: new Date().toISOString() });
  await run.put(RUN_REPORT_KEY, `${JSON.stringify(report, null, 2)}\n`);
}
