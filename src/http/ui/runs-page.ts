import { RUN_STATES, type RunFilter } from '../../queue/run-record.ts';
import type { RunView } from '../../queue/run-view.ts';
import { formatMs, html, queryString, type SafeHtml } from './html.ts';

/** The runs list's filters as they come from the query string (all optional, all validated here). */
export interface RunsQuery {
  state?: string;
  errorCode?: string;
  modality?: string;
  from?: string;
  to?: string;
  page: number;
}

export const RUNS_PAGE_SIZE = 25;

function text(value: unknown, pattern: RegExp): string | undefined {
  return typeof value === 'string' && pattern.test(value) ? value : undefined;
}

/** Unknown or malformed values are dropped, never passed on. Dates are YYYY-MM-DD (UTC days). */
export function parseRunsQuery(query: Record<string, unknown>): RunsQuery {
  const state = text(query.state, /^[a-z-]{1,32}$/);
  const page = Number.parseInt(String(query.page ?? '1'), 10);
  const day = /^\d{4}-\d{2}-\d{2}$/;
  const parsed: RunsQuery = { page: Number.isFinite(page) && page >= 1 && page <= 10_000 ? page : 1 };
  if (state && (RUN_STATES as readonly string[]).includes(state)) parsed.state = state;
  const errorCode = text(query.errorCode, /^[A-Z0-9_]{1,64}$/);
  if (errorCode) parsed.errorCode = errorCode;
  const modality = text(typeof query.modality === 'string' ? query.modality.toUpperCase() : undefined, /^[A-Z0-9]{1,16}$/);
  if (modality) parsed.modality = modality;
  const from = text(query.from, day);
  if (from && !Number.isNaN(Date.parse(from))) parsed.from = from;
  const to = text(query.to, day);
  if (to && !Number.isNaN(Date.parse(to))) parsed.to = to;
  return parsed;
}

/** One more than a page, to know whether a next page exists. */
export function runFilterOf(query: RunsQuery): RunFilter {
  return {
    limit: RUNS_PAGE_SIZE + 1,
    offset: (query.page - 1) * RUNS_PAGE_SIZE,
    ...(query.state ? { state: query.state as RunFilter['state'] & string } : {}),
    ...(query.errorCode ? { errorCode: query.errorCode } : {}),
    ...(query.modality ? { modality: query.modality } : {}),
    ...(query.from ? { from: Date.parse(`${query.from}T00:00:00Z`) } : {}),
    ...(query.to ? { to: Date.parse(`${query.to}T23:59:59.999Z`) } : {}),
  };
}

function totalMs(run: RunView): number | null {
  return run.stages.length === 0 ? null : run.stages.reduce((n, s) => n + s.durationMs, 0);
}

export function runsPage(query: RunsQuery, found: RunView[], strip: SafeHtml): SafeHtml {
  const runs = found.slice(0, RUNS_PAGE_SIZE);
  const filters = { state: query.state, errorCode: query.errorCode, modality: query.modality, from: query.from, to: query.to };
  return html`${strip}
<section>
<h1>Runs</h1>
<form method="get" action="/ui" class="filters">
  <label>State <select name="state"><option value="">any</option>${RUN_STATES.map((s) => html`<option value="${s}"${s === query.state ? html` selected` : ''}>${s}</option>`)}</select></label>
  <label>Error code <input name="errorCode" value="${query.errorCode ?? ''}" placeholder="e.g. STOW_REJECTED" pattern="[A-Za-z0-9_]*" size="18"></label>
  <label>Modality <input name="modality" value="${query.modality ?? ''}" placeholder="CT" size="5"></label>
  <label>From <input type="date" name="from" value="${query.from ?? ''}"></label>
  <label>To <input type="date" name="to" value="${query.to ?? ''}"></label>
  <button type="submit">Filter</button> <a href="/ui">clear</a>
</form>
${runs.length === 0 ? html`<p class="muted">No runs match.</p>` : html`<table class="runs">
<thead><tr><th>Run</th><th>Created</th><th>Kind</th><th>State</th><th>Outcome / error</th><th>Modalities</th><th>Attempts</th><th>Time</th></tr></thead>
<tbody>${runs.map((run) => html`
<tr data-state="${run.state}">
  <td><a href="/ui/runs/${encodeURIComponent(run.id)}">${run.id}</a></td>
  <td><time datetime="${run.createdAt}">${run.createdAt.replace('T', ' ').slice(0, 19)}</time></td>
  <td>${run.kind}</td>
  <td><span class="badge badge-${run.state}">${run.state}</span></td>
  <td>${run.outcome ? html`<span class="badge badge-${run.outcome}">${run.outcome}</span>` : ''} ${run.errorCode ? html`<code class="error">${run.errorCode}</code>` : ''}</td>
  <td>${run.modalities.join(', ')}</td>
  <td>${run.attempts.length}</td>
  <td>${formatMs(totalMs(run))}</td>
</tr>`)}
</tbody></table>`}
<p class="pager">
  ${query.page > 1 ? html`<a rel="prev" href="/ui${queryString({ ...filters, page: query.page - 1 })}">← newer</a>` : ''}
  <span>page ${query.page}</span>
  ${found.length > RUNS_PAGE_SIZE ? html`<a rel="next" href="/ui${queryString({ ...filters, page: query.page + 1 })}">older →</a>` : ''}
</p>
</section>`;
}
