import { Gauge, type Registry } from 'prom-client';
import type { QualityGroup, QualitySource } from '../shared/quality-summary.ts';

/**
 * The review figures in /metrics, read from the quality store at each scrape (every host shows the shared
 * counts). Decisions only grow, so the `_total` series behaves as a counter for rate().
 */
export function registerQualityMetrics(registry: Registry, quality: QualitySource): void {
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: QualityGroup, set: (labels: Record<string, string>, v: number) => void) => void) =>
    new Gauge({
      name, help, labelNames, registers: [registry],
      async collect() {
        const summary = await quality.summary();
        this.reset();
        for (const g of summary.groups) fill(g, (labels, v) => this.set({ model_version: g.modelVersion, task: g.task, ...labels }, v));
      },
    });
  gauge('unimedvl_review_decisions_total', 'Review decisions on AI drafts by model version, task and decision', ['model_version', 'task', 'decision'], (g, set) => {
    set({ decision: 'accepted' }, g.accepted);
    set({ decision: 'edited' }, g.edited);
    set({ decision: 'rejected' }, g.rejected);
    set({ decision: 'timed-out' }, g.timedOut);
  });
  gauge('unimedvl_review_pending', 'Review Tasks still open', ['model_version', 'task'], (g, set) => set({}, g.pending));
  gauge('unimedvl_review_edit_distance', 'Mean normalised edit distance between AI draft and signed text over edited reviews (0 unchanged, 1 all rewritten)',
    ['model_version', 'task'], (g, set) => {
      if (g.meanEditDistance !== null) set({}, g.meanEditDistance);
    });
}
