import { describe, expect, it } from 'vitest';
import { createProgressBar } from '../../src/cli/progress-bar.ts';

const sink = (isTTY: boolean) => {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, columns: 80, write: (t: string) => chunks.push(t) } };
};

describe('progress bar', () => {
  it('redraws one line per stage on a terminal', () => {
    const { chunks, stream } = sink(true);
    const bar = createProgressBar(stream, { width: 10 });
    bar.update('model', 0.5);
    bar.update('model', 1);
    bar.update('write', 0);
    bar.done();
    const text = chunks.join('');
    expect(text).toContain('\rmodel [#####-----]  50%');
    expect(text).toContain('\rmodel [##########] 100%');
    expect(text.endsWith("100%\n\rwrite [----------]   0%\n")).toBe(true);
  });

  it('prints plain lines at each new 10% step elsewhere', () => {
    const { chunks, stream } = sink(false);
    const bar = createProgressBar(stream);
    for (const f of [0, 0.05, 0.12, 0.19, 0.5, 1, 1]) bar.update('model', f);
    bar.done();
    expect(chunks.join('')).toBe('model: 0%\nmodel: 10%\nmodel: 50%\nmodel: 100%\n');
  });
});
