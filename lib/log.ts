// The one logger and the one progress reporter. Everything human-facing goes to
// stderr so stdout stays free for a stage's JSON summary. Never pass secrets or
// row values here: log names, counts and hashes only.
import { UserError, errorMessage } from './errors.ts';

export type Logger = (message: string) => void;

/**
 * `--verbose` (or VERBOSE=1): detail for whoever debugs a run (each object
 * written, each retry, each poll) goes to stderr only then. Like every line
 * here it names keys, counts and statuses, never row values.
 */
// Worker threads get a copy of the environment when they start: PG2DDB_VERBOSE
// carries the setting (and the stage's name) to them.
let verbose = !!process.env.PG2DDB_VERBOSE;
let verboseStage = process.env.PG2DDB_VERBOSE || 'pg2ddb';
export function setVerbose(on: boolean, stage = verboseStage): void {
  verbose = on;
  verboseStage = stage;
  if (on) process.env.PG2DDB_VERBOSE = stage;
  else delete process.env.PG2DDB_VERBOSE;
}
export function debug(message: string): void {
  if (!verbose) return;
  progressLine.clear();
  process.stderr.write(`${verboseStage}: debug: ${message}\n`);
  progressLine.redraw();
}

/** The running CLI's stage (runCli sets it), for lines written below a stage's own logger. */
let cliStage = 'pg2ddb';

/** A line a person waiting should see, from code that has no stage logger of its own (lib/retry). */
export function notice(message: string): void {
  logger(cliStage)(message);
}

export function logger(stage: string, stream: NodeJS.WriteStream = process.stderr): Logger {
  return (message) => {
    progressLine.clear();
    stream.write(`${stage}: ${message}\n`);
    progressLine.redraw();
  };
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** A single status line on a TTY, redrawn at most every 250 ms; silent elsewhere. */
class ProgressLine {
  private text = '';
  private shown = false;
  private lastDraw = 0;
  private readonly tty = !!process.stderr.isTTY && process.env.CI !== 'true';

  set(text: string, force = false): void {
    this.text = text;
    const now = Date.now();
    if (force || now - this.lastDraw >= 250) { this.lastDraw = now; this.redraw(); }
  }
  clear(): void {
    if (this.tty && this.shown) { process.stderr.write('\r\x1b[2K'); this.shown = false; }
  }
  redraw(): void {
    if (!this.tty || !this.text) return;
    const width = process.stderr.columns || 120;
    process.stderr.write(`\r\x1b[2K${this.text.slice(0, width - 1)}`);
    this.shown = true;
  }
  done(): void { this.clear(); this.text = ''; }
}
export const progressLine = new ProgressLine();

/**
 * What a Progress counts: `what` (rows, items) and, when the manifest says,
 * the exact total to do, for a percentage, a rate and an ETA. Without a total
 * (extract reads rows as COPY streams them) counts are shown as estimated.
 */
export interface ProgressCounts {
  what: string;
  total?: number;
  unitName?: string;
  /** Without a total: each unit's estimated share of the work, by name, for an approximate % and ETA. */
  weights?: Map<string, number>;
}

/** Tracks throughput of named units of work (tables, parts) and renders them on the progress line. */
export class Progress {
  private readonly active = new Map<string, { count: number; bytes: number; started: number }>();
  private readonly started = Date.now();
  private finishedCount = 0;
  private finishedWeight = 0;
  private readonly totalWeight: number;
  private static latest: Progress | undefined;
  constructor(private readonly total: number, private done = 0, private readonly counts: ProgressCounts = { what: 'rows' }) {
    Progress.latest = this;
    this.totalWeight = [...(counts.weights?.values() ?? [])].reduce((a, b) => a + b, 0);
  }

  /** The stage's current progress, for the line an interrupt prints. */
  static current(): { done: number; total: number; count: number; counts: ProgressCounts } | undefined {
    const p = Progress.latest;
    return p && { done: p.done, total: p.total, count: p.count(), counts: p.counts };
  }

  start(name: string): void {
    this.active.set(name, { count: 0, bytes: 0, started: Date.now() });
    this.render(true);
  }
  update(name: string, count: number, bytes: number): void {
    const entry = this.active.get(name);
    if (!entry) return;
    entry.count = count;
    entry.bytes = bytes;
    this.render(false);
  }
  finish(name: string, finalCount?: number): void {
    const entry = this.active.get(name);
    this.finishedCount += finalCount ?? entry?.count ?? 0;
    this.finishedWeight += this.counts.weights?.get(name) ?? 0;
    this.active.delete(name);
    this.done++;
    this.render(true);
    if (this.done === this.total) progressLine.done();
  }
  private count(): number {
    let n = this.finishedCount;
    for (const e of this.active.values()) n += e.count;
    return n;
  }
  private render(force: boolean): void {
    const { what, total, unitName = '' } = this.counts;
    const exact = total !== undefined;
    const parts = [...this.active].map(([name, e]) => {
      const seconds = Math.max((Date.now() - e.started) / 1000, 0.001);
      return `${name} ${exact ? '' : '~'}${e.count} ${what} ${formatBytes(e.bytes)} ${formatBytes(e.bytes / seconds)}/s`;
    });
    const head = [`[${this.done}/${this.total}${unitName ? ` ${unitName}` : ''}]`];
    if (exact) {
      const count = this.count();
      const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
      const rate = count / seconds;
      head.push(`${count}/${total} ${what} ${total > 0 ? Math.min(100, Math.floor((100 * count) / total)) : 100}%`, `${Math.round(rate)} ${what}/s`);
      if (rate > 0 && count < total) head.push(`ETA ${formatDuration((total - count) / rate)}`);
    } else {
      if (this.totalWeight > 0 && this.finishedWeight > 0) {
        const share = Math.min(1, this.finishedWeight / this.totalWeight);
        const seconds = (Date.now() - this.started) / 1000;
        head.push(`~${Math.floor(100 * share)}%`);
        if (share < 1) head.push(`ETA ~${formatDuration((seconds * (1 - share)) / share)}`);
      }
      if (parts.length > 0) head.push(`(${what} estimated)`);
    }
    progressLine.set(`${head.join(' ')} ${parts.join(' | ')}`.trimEnd(), force);
  }
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

/**
 * Ctrl-C (SIGINT) or SIGTERM: clear the progress line, say in one line what
 * was kept and how to rerun, and exit 128 + the signal's number (130, 143), as
 * shells report a command a signal ended.
 */
export function exitOnInterrupt(stage: string, kept: () => string): void {
  const handler = (signal: NodeJS.Signals) => {
    progressLine.done();
    process.stderr.write(`${stage}: interrupted; ${kept()}\n`);
    const code = signal === 'SIGINT' ? 130 : 143;
    if (beforeInterruptExit.size === 0) process.exit(code);
    // At most INTERRUPT_WAIT_MS: a stop must end within seconds, whatever the store does.
    setTimeout(() => process.exit(code), INTERRUPT_WAIT_MS);
    void Promise.allSettled([...beforeInterruptExit].map((task) => task())).then(() => process.exit(code));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}

const INTERRUPT_WAIT_MS = 5000;
const beforeInterruptExit = new Set<() => Promise<unknown>>();

/**
 * Work an interrupted stage does before it exits (up to 5 s): releasing the
 * run's extract lock, which a rerun on another host would otherwise wait out.
 * Returns the function that withdraws it.
 */
export function beforeInterrupt(task: () => Promise<unknown>): () => void {
  beforeInterruptExit.add(task);
  return () => { beforeInterruptExit.delete(task); };
}

/** Runs a CLI's main function: UserErrors print as one line, anything else with its stack. */
export async function runCli(stage: string, main: () => Promise<number | void>): Promise<void> {
  cliStage = stage;
  // A reader that closed the pipe (`| head -1`, `| true`) wants no more output: the
  // stage still finishes and records its work, without a stack trace for the write.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
  try {
    process.exitCode = (await main()) ?? 0;
  } catch (err) {
    progressLine.done();
    if (err instanceof UserError) {
      process.stderr.write(`${stage}: error: ${err.message}\n`);
      process.exitCode = err.exitCode;
      if (err.exitNow) process.exit(err.exitCode);
    } else {
      process.stderr.write(`${stage}: internal error: ${errorMessage(err)}\n${err instanceof Error ? err.stack ?? '' : ''}\n`);
      // 2 is for usage errors (lib/config.ts); anything else that stops a stage is a failure.
      process.exitCode = 1;
    }
  }
}
