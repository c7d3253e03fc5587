// Records every language_model call a runner makes (its observer hook) until stop(): what the parity and
// conventions tests compare against the reference's block lengths and positions.
import type { GraphRunner, LmCallInfo } from '../../../src/model/runner.ts';

export function observeLmCalls(runner: Pick<GraphRunner, 'observer'>): { calls: LmCallInfo[]; stop: () => void } {
  const calls: LmCallInfo[] = [];
  runner.observer = (c) => calls.push(c);
  return { calls, stop: () => { runner.observer = null; } };
}
