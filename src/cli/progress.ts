type ProgressStream = { write(s: string): unknown; isTTY?: boolean; columns?: number };

/** Streams with a bar drawn on their current line (a terminal's cursor is at its end). */
const drawn = new WeakSet<object>();

/**
 * Erases a bar drawn on `stream`'s current line, if any: anything else written to the terminal
 * (a result line on stdout, an error on stderr) otherwise went on after the bar, on its line.
 */
export function clearProgress(stream: object): void {
  if (!drawn.has(stream)) return;
  drawn.delete(stream);
  (stream as ProgressStream).write(`\r\x1b[K`);
}

/**
 * A progress bar on stderr for long work. Draws only on a terminal; in pipes and CI it prints
 * nothing until done(), so logs stay clean. Lines written to the terminal while it is drawn go
 * after clear() (the next tick draws it again).
 */
export class Progress {
  private readonly stream: ProgressStream;
  private readonly label: string;
  private readonly total: number;
  private readonly started = Date.now();
  private lastDraw = 0;
  private current = 0;

  constructor(stream: ProgressStream, label: string, total: number) {
    this.stream = stream;
    this.label = label;
    this.total = Math.max(total, 1);
  }

  tick(n = 1, note = ''): void {
    this.update(this.current + n, note);
  }

  /**
   * Sets how much is done, a fraction of a unit included: `train` moves its bar by the batch
   * within an epoch (ticked once an epoch, one epoch of a large data set showed 0% for minutes).
   */
  update(current: number, note = ''): void {
    this.current = Math.min(this.total, Math.max(0, current));
    const now = Date.now();
    // TERM=dumb (an Emacs shell buffer) is a terminal that shows the escape codes as text.
    if (!this.stream.isTTY || process.env.TERM === 'dumb' || (now - this.lastDraw < 100 && this.current < this.total)) return;
    this.lastDraw = now;
    const width = 28;
    const filled = Math.round((this.current / this.total) * width);
    const pct = ((100 * this.current) / this.total).toFixed(0).padStart(3);
    const elapsed = (now - this.started) / 1000;
    const eta = this.current > 0 ? (elapsed * (this.total - this.current)) / this.current : 0;
    let line = `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}% ${Math.floor(this.current)}/${this.total} eta ${eta.toFixed(0)}s ${note}`;
    // A line wider than the terminal wraps, and '\r' then redraws only its last row: every tick
    // left a row behind. Cut to the width (one column spare: some terminals wrap on the last).
    const cols = this.stream.columns;
    if (typeof cols === 'number' && cols > 1 && line.length > cols - 1) line = line.slice(0, cols - 1);
    this.stream.write(`\r${line}\x1b[K`);
    drawn.add(this.stream);
  }

  /** Erases the bar, so that a line can be written to the terminal. */
  clear(): void {
    clearProgress(this.stream);
  }

  done(note = ''): void {
    const secs = ((Date.now() - this.started) / 1000).toFixed(1);
    this.clear();
    this.stream.write(`${this.label}: ${Math.floor(this.current)}/${this.total} in ${secs}s${note ? ` ${note}` : ''}\n`);
  }
}
