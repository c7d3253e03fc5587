import type { RunAttempt } from '../../queue/run-record.ts';
import type { RunView } from '../../queue/run-view.ts';
import { formatMs, html, type SafeHtml } from './html.ts';

// The step names the stages time (analyze-study.ts, result-stage.ts, publish-run.ts), in pipeline order,
// with the words an operator knows. A step not listed here is shown under its own name, after these.
const STEP_LABELS: Record<string, string> = {
  'queue-wait': 'since the trigger (queue wait)',
  'resolve': 'resolve study (FHIR)',
  'list-series': 'list series (QIDO-RS)',
  'plan': 'plan tasks (WADO-RS metadata)',
  'fhir-status': 'Task status (FHIR)',
  'retrieve': 'retrieve (WADO-RS)',
  'decode': 'decode pixels',
  'priors': 'prior study',
  'model': 'model',
  'dicom-build': 'build DICOM objects',
  'fhir-build': 'build FHIR results',
  'persist': 'persist outputs',
  'load': 'load outputs',
  'dicom-write': 'DICOM write (STOW-RS)',
  'fhir-write': 'FHIR write',
};
const STEP_ORDER = Object.keys(STEP_LABELS);

function orderedSteps(timings: Record<string, number>): [string, number][] {
  const rank = (step: string) => (STEP_ORDER.includes(step) ? STEP_ORDER.indexOf(step) : STEP_ORDER.length);
  return Object.entries(timings).sort((a, b) => rank(a[0]) - rank(b[0]));
}

/** A horizontal bar (SVG attributes, not inline style: the CSP allows no inline style). */
function bar(ms: number, scaleMs: number, kind: string): SafeHtml {
  const width = scaleMs <= 0 ? 0 : Math.max(0.5, Math.min(100, (ms / scaleMs) * 100));
  return html`<svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label="${formatMs(ms)}"><rect class="bar-${kind}" x="0" y="0" height="10" width="${width.toFixed(2)}"></rect></svg>`;
}

function gapMs(from: string | null, to: string | null): number | null {
  if (from === null || to === null) return null;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) && ms >= 0 ? ms : null;
}

interface TimelineRow {
  label: SafeHtml | string;
  ms: number | null;
  kind: string;
  detail?: SafeHtml | string;
  level: 'attempt' | 'step' | 'wait';
}

function timelineRows(run: RunView): TimelineRow[] {
  const rows: TimelineRow[] = [];
  let previousEnd: string | null = run.createdAt;
  run.attempts.forEach((attempt: RunAttempt, i) => {
    const wait = gapMs(previousEnd, attempt.startedAt);
    if (wait !== null) rows.push({ label: i === 0 ? 'queue wait' : `wait before ${attempt.stage} attempt ${attempt.attempt}`, ms: wait, kind: 'wait', level: 'wait' });
    rows.push({
      label: html`${attempt.stage} · attempt ${attempt.attempt}`,
      ms: attempt.durationMs,
      kind: attempt.outcome,
      level: 'attempt',
      detail: html`<span class="badge badge-${attempt.outcome}">${attempt.outcome}</span>${attempt.errorCode ? html` <code class="error">${attempt.errorCode}</code>${attempt.retryable ? ' (transient)' : ''}` : ''}${attempt.nextAttemptAt ? html` · next attempt <time datetime="${attempt.nextAttemptAt}">${attempt.nextAttemptAt}</time>` : ''} <span class="muted">${attempt.worker}${attempt.engineCalls !== undefined ? ` · ${attempt.engineCalls} model call${attempt.engineCalls === 1 ? '' : 's'}` : ''}</span>`,
    });
    for (const [step, ms] of orderedSteps(attempt.timingsMs ?? {})) rows.push({ label: STEP_LABELS[step] ?? step, ms, kind: step === 'model' ? 'model' : 'step', level: 'step' });
    previousEnd = attempt.endedAt;
  });
  return rows;
}

function resultLink(fhirBase: string | undefined, reference: string): SafeHtml {
  if (!fhirBase || !/^[A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(reference)) return html`<code>${reference}</code>`;
  return html`<a href="${`${fhirBase.replace(/\/+$/, '')}/${reference}`}" rel="noreferrer" target="_blank"><code>${reference}</code></a>`;
}

export interface RunPageOptions {
  fhirBase: string | undefined;
  csrfToken: string;
  canCancel: boolean;
  notice?: string | undefined;
}

export function runPage(run: RunView, options: RunPageOptions): SafeHtml {
  const rows = timelineRows(run);
  const scale = Math.max(1, ...rows.map((r) => r.ms ?? 0));
  const replayable = run.state === 'failed' || run.state === 'dead-letter';
  const cancellable = options.canCancel && run.state === 'queued';
  const ended = run.state === 'completed' || run.state === 'failed' || run.state === 'dead-letter';
  return html`<section class="run"${ended ? '' : html` data-refresh="3"`}>
<p><a href="/ui">← all runs</a></p>
${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : ''}
<h1>Run <code>${run.id}</code></h1>
<dl class="facts">
  <dt>State</dt><dd><span class="badge badge-${run.state}" id="run-state">${run.state}</span>${run.outcome ? html` <span class="badge badge-${run.outcome}" id="run-outcome">${run.outcome}</span>` : ''}${run.errorCode ? html` <code class="error" id="run-error">${run.errorCode}</code>` : ''}</dd>
  <dt>Kind</dt><dd>${run.kind} · trigger ${run.trigger}</dd>
  <dt>Stage</dt><dd>${run.stage}${run.progress ? ` · ${run.progress.stage} ${run.progress.percent} %` : ''}</dd>
  <dt>Created</dt><dd><time datetime="${run.createdAt}">${run.createdAt}</time></dd>
  <dt>Ended</dt><dd>${run.endedAt ?? '–'}</dd>
  <dt>Modalities</dt><dd>${run.modalities.join(', ') || '–'}${run.unmatchedModalities.length > 0 ? html` <span class="muted">(no profile: ${run.unmatchedModalities.join(', ')})</span>` : ''}</dd>
  ${run.replayOf ? html`<dt>Replay of</dt><dd><a href="/ui/runs/${encodeURIComponent(run.replayOf)}">${run.replayOf}</a></dd>` : ''}
  ${run.resultsOf ? html`<dt>Results of</dt><dd><a href="/ui/runs/${encodeURIComponent(run.resultsOf)}">${run.resultsOf}</a></dd>` : ''}
</dl>
<div class="actions">
  ${replayable ? html`<form method="post" action="/ui/runs/${encodeURIComponent(run.id)}/retry"><input type="hidden" name="csrf" value="${options.csrfToken}"><button type="submit" class="primary" data-confirm="Retry this run from the stage that failed?">Retry run</button></form>` : ''}
  ${cancellable ? html`<form method="post" action="/ui/runs/${encodeURIComponent(run.id)}/cancel"><input type="hidden" name="csrf" value="${options.csrfToken}"><button type="submit" class="danger" data-confirm="Cancel this queued run?">Cancel run</button></form>` : ''}
</div>

<h2>Timeline</h2>
${rows.length === 0 ? html`<p class="muted">No attempt yet.</p>` : html`<table class="timeline">
<thead><tr><th>Step</th><th>Duration</th><th class="bar-cell">Share of the longest</th><th>Detail</th></tr></thead>
<tbody>${rows.map((row) => html`
<tr class="row-${row.level}"><td>${row.label}</td><td class="num">${formatMs(row.ms)}</td><td class="bar-cell">${row.ms === null ? '' : bar(row.ms, scale, row.kind)}</td><td>${row.detail ?? ''}</td></tr>`)}
</tbody></table>`}

${run.events.length === 0 ? '' : html`<h2>Events</h2><ul class="events">${run.events.map((e) => html`<li><time datetime="${e.at}">${e.at}</time> ${e.type}${e.stage ? ` (${e.stage})` : ''}${e.errorCode ? html` <code class="error">${e.errorCode}</code>` : ''}${e.runId ? html` → <a href="/ui/runs/${encodeURIComponent(e.runId)}">${e.runId}</a>` : ''}</li>`)}</ul>`}

<h2>Series analyzed</h2>
${run.series.length === 0 ? html`<p class="muted">None.</p>` : html`<table><thead><tr><th>Series (hashed)</th><th>Modality</th><th>Instances</th><th>Frames</th><th>Size</th></tr></thead><tbody>${run.series.map((s) => html`
<tr><td><code>${s.seriesKey}</code></td><td>${s.modality}</td><td class="num">${s.instances}</td><td class="num">${s.frames}</td><td class="num">${s.columns}×${s.rows}</td></tr>`)}</tbody></table>`}

<h2>Results written</h2>
${run.results === null ? html`<p class="muted">None yet.</p>` : html`<ul class="results">
  <li>${run.results.tasks} task result(s)</li>
  ${run.results.diagnosticReport ? html`<li>DiagnosticReport: ${resultLink(options.fhirBase, run.results.diagnosticReport)}</li>` : ''}
  ${run.results.task ? html`<li>Task: ${resultLink(options.fhirBase, run.results.task)}</li>` : ''}
  ${run.results.observation ? html`<li>Answer: ${resultLink(options.fhirBase, run.results.observation)}</li>` : ''}
  ${run.results.dicomObjects.map((o) => html`<li>DICOM ${o.role}: ${o.outcome}</li>`)}
</ul><p class="muted">Result series are stored into the source study (STOW-RS); the run record keeps no raw UIDs, open the DiagnosticReport for the series references.</p>`}
</section>`;
}
