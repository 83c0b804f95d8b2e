// The one logger and the one progress reporter. Everything human-facing goes to
// stderr so stdout stays free for a stage's JSON summary. Never pass secrets or
// row values here: log names, counts and hashes only.
import { UserError, errorMessage } from './errors.ts';

export type Logger = (message: string) => void;

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

/** Tracks throughput of named units of work (tables) and renders them on the progress line. */
export class Progress {
  private readonly active = new Map<string, { rows: number; bytes: number; started: number }>();
  constructor(private readonly total: number, private done = 0) {}

  start(name: string): void {
    this.active.set(name, { rows: 0, bytes: 0, started: Date.now() });
    this.render(true);
  }
  update(name: string, rows: number, bytes: number): void {
    const entry = this.active.get(name);
    if (!entry) return;
    entry.rows = rows;
    entry.bytes = bytes;
    this.render(false);
  }
  finish(name: string): void {
    this.active.delete(name);
    this.done++;
    this.render(true);
    if (this.done === this.total) progressLine.done();
  }
  private render(force: boolean): void {
    const parts = [...this.active].map(([name, e]) => {
      const seconds = Math.max((Date.now() - e.started) / 1000, 0.001);
      return `${name} ~${e.rows} rows ${formatBytes(e.bytes)} ${formatBytes(e.bytes / seconds)}/s`;
    });
    progressLine.set(`[${this.done}/${this.total}] ${parts.join(' | ')}`, force);
  }
}

/** Runs a CLI's main function: UserErrors print as one line, anything else with its stack. */
export async function runCli(stage: string, main: () => Promise<number | void>): Promise<void> {
  try {
    process.exitCode = (await main()) ?? 0;
  } catch (err) {
    progressLine.done();
    if (err instanceof UserError) {
      process.stderr.write(`${stage}: error: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`${stage}: internal error: ${errorMessage(err)}\n${err instanceof Error ? err.stack ?? '' : ''}\n`);
      // 2 is for usage errors (lib/config.ts); anything else that stops a stage is a failure.
      process.exitCode = 1;
    }
  }
}
