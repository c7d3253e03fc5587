import type { RunView } from '../../queue/run-view.ts';
import type { QualitySummary } from '../../shared/quality-summary.ts';
import { formatMs, html, type SafeHtml } from './html.ts';

/** What the strip shows; each part is absent when its source is (no engine in an `api` process, no review loop). */
export interface DashboardFigures {
  queueCounts: Record<string, Record<string, number>> | undefined;
  /** Runs created in the last hour. */
  lastHour: RunView[];
  engine: { name: string; version: string; provider: string } | undefined;
  quality: QualitySummary | undefined;
}

const WAITING = ['waiting', 'delayed', 'prioritized'];

function countBy<T>(items: readonly T[], key: (item: T) => string): [string, number][] {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]);
}

/** Model time of analyze attempts, mean per run, by the run's modalities (the record times the model per attempt). */
function modelTimes(runs: readonly RunView[]): [string, number, number][] {
  const sums = new Map<string, { ms: number; n: number }>();
  for (const run of runs) {
    const ms = run.attempts.reduce((sum, a) => sum + (a.timingsMs?.model ?? 0), 0);
    if (ms === 0) continue;
    const key = `${run.kind} ${run.modalities.join('+') || '?'}`;
    const entry = sums.get(key) ?? { ms: 0, n: 0 };
    sums.set(key, { ms: entry.ms + ms, n: entry.n + 1 });
  }
  return [...sums].map(([key, { ms, n }]) => [key, ms / n, n]);
}

function percent(rate: number | null): string {
  return rate === null ? '–' : `${Math.round(rate * 100)} %`;
}

export function dashboardStrip(figures: DashboardFigures): SafeHtml {
  const queues = figures.queueCounts ? Object.entries(figures.queueCounts) : [];
  const outcomes = countBy(figures.lastHour, (r) => r.outcome ?? r.state);
  const models = modelTimes(figures.lastHour);
  return html`<section class="strip" aria-label="Dashboard">
  <div class="card"><h2>Queue depth</h2>${queues.length === 0 ? html`<p class="muted">unavailable</p>` : html`<dl>${queues.map(([name, counts]) => html`
    <dt>${name}</dt><dd><strong>${WAITING.reduce((n, s) => n + (counts[s] ?? 0), 0)}</strong> waiting · ${counts.active ?? 0} active</dd>`)}</dl>`}</div>
  <div class="card"><h2>Runs, last hour</h2>${outcomes.length === 0 ? html`<p class="muted">none</p>` : html`<dl>${outcomes.map(([outcome, n]) => html`
    <dt><span class="badge badge-${outcome}">${outcome}</span></dt><dd>${n}</dd>`)}</dl>`}</div>
  <div class="card"><h2>Model time per run</h2>${models.length === 0 ? html`<p class="muted">no model calls</p>` : html`<dl>${models.map(([key, ms, n]) => html`
    <dt>${key}</dt><dd>${formatMs(ms)} <span class="muted">(${n})</span></dd>`)}</dl>`}</div>
  <div class="card"><h2>Execution provider</h2>${figures.engine ? html`<p><strong class="provider">${figures.engine.provider.toUpperCase()}</strong></p><p class="muted">${figures.engine.name}@${figures.engine.version}</p>` : html`<p class="muted">no model in this process</p>`}</div>
  ${figures.quality ? html`<div class="card"><h2>Acceptance</h2>${figures.quality.groups.length === 0 ? html`<p class="muted">no reviews yet</p>` : html`<dl>${figures.quality.groups.map((g) => html`
    <dt>${g.task} <span class="muted">${g.modelVersion}</span></dt><dd>${percent(g.acceptanceRate)} <span class="muted">(${g.accepted + g.edited}/${g.accepted + g.edited + g.rejected + g.timedOut}, ${g.pending} open)</span></dd>`)}</dl>`}</div>` : ''}
</section>`;
}
