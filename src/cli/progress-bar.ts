// A tiny terminal progress bar for `analyze`: on a TTY one line redrawn with \r; elsewhere (pipes,
// CI logs) plain lines at each 10% step, so logs stay short and readable.

/** The part of a stream the bar needs (process.stderr fits). */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressBar {
  /** Report progress of a stage; fraction in [0, 1] (clamped). A new stage name starts a new line. */
  update(stage: string, fraction: number): void;
  /** Finish the current line (a TTY bar stays visible). */
  done(): void;
}

export interface ProgressBarOptions {
  /** Width of the bar in characters; default 30. */
  width?: number;
}

function clamp(fraction: number): number {
  return Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
}

function percentText(fraction: number): string {
  return `${Math.floor(fraction * 100)}%`.padStart(4);
}

export function createProgressBar(stream: ProgressStream, options: ProgressBarOptions = {}): ProgressBar {
  const width = options.width ?? 30;
  let stage: string | undefined;
  let lastStep = -1; // non-TTY: last 10% step printed for this stage
  let lineOpen = false; // TTY: a bar is drawn and not yet ended with \n
  let lastDrawn = '';

  function drawTty(name: string, fraction: number): void {
    const filled = Math.round(fraction * width);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
    let line = `${name} [${bar}] ${percentText(fraction)}`;
    const columns = stream.columns ?? 0;
    if (columns > 0 && line.length >= columns) line = line.slice(0, columns - 1);
    if (line === lastDrawn) return;
    // Pad over a longer previous line so no stale characters remain.
    stream.write(`\r${line.padEnd(lastDrawn.length)}`);
    lastDrawn = line;
    lineOpen = true;
  }

  return {
    update(name, rawFraction) {
      const fraction = clamp(rawFraction);
      if (stream.isTTY) {
        if (stage !== undefined && name !== stage && lineOpen) {
          stream.write('\n');
          lastDrawn = '';
        }
        stage = name;
        drawTty(name, fraction);
        return;
      }
      if (name !== stage) {
        stage = name;
        lastStep = -1;
      }
      const step = Math.floor(fraction * 10);
      if (step > lastStep) {
        lastStep = step;
        stream.write(`${name}: ${step * 10}%\n`);
      }
    },
    done() {
      if (stream.isTTY && lineOpen) stream.write('\n');
      lineOpen = false;
      lastDrawn = '';
      stage = undefined;
      lastStep = -1;
    },
  };
}
