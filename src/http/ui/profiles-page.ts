import type { ProfileFileCheck, ProfileTestReport } from '../../shared/profile-test.ts';
import { html, type SafeHtml } from './html.ts';

export interface ProfilesPageState {
  csrfToken: string;
  canFetchStudy: boolean;
  report?: ProfileTestReport | undefined;
  fileCheck?: ProfileFileCheck | undefined;
  /** A problem with the input (not JSON, study not found), shown above the forms. */
  problem?: string | undefined;
}

function slices(list: number[]): string {
  if (list.length <= 12) return list.join(', ');
  return `${list.slice(0, 6).join(', ')}, … ${list.slice(-3).join(', ')} (${list.length} in all)`;
}

function reportView(report: ProfileTestReport): SafeHtml {
  if (report.series.length === 0) return html`<p class="muted">The input holds no series.</p>`;
  return html`${report.series.map((s) => {
    const matched = s.profiles.filter((p) => p.matched);
    return html`<article class="series-verdict" data-modality="${s.modality}">
<h3>Series ${s.seriesNumber ?? `#${s.index}`} · ${s.modality || '(no modality)'} ${s.bodyPartExamined ? `· ${s.bodyPartExamined}` : ''} ${s.seriesDescription ? html`· <q>${s.seriesDescription}</q>` : ''}</h3>
<p>${s.instances} instance(s), ${s.depth} slice(s)/frame(s).
${s.selectedForAnalysis ? '' : html` <strong class="warn">Not analyzed: modality ${s.modality || '(none)'} is not in SERIES_MODALITIES</strong> (an SR, RT or SEG series is never an image series).`}
${matched.length === 0 ? html` <strong class="verdict-none">No profile matches: this series would be skipped.</strong>` : html` <strong class="verdict-match">${matched.length} profile(s) match.</strong>`}</p>
<table class="verdicts"><thead><tr><th>Profile</th><th>Verdict</th><th>Tasks that would run · slices/frames (0-based)</th></tr></thead><tbody>${s.profiles.map((p) => html`
<tr class="${p.matched ? 'matched' : 'unmatched'}"><td>${p.profile}</td><td>${p.matched ? html`<span class="badge badge-completed">matches</span>` : html`<span class="badge badge-failed">no match</span>`}</td>
<td>${p.matched
  ? html`<ul>${p.tasks.map((t) => html`<li><code>${t.id}</code> (${t.kind}) on ${slices(t.slices)}</li>`)}${p.disabledTasks.map((id) => html`<li class="muted"><code>${id}</code> disabled</li>`)}</ul>`
  : html`<ul class="reasons">${p.reasons.map((r) => html`<li>${r.message}</li>`)}</ul>`}</td></tr>`)}
</tbody></table>
</article>`;
  })}`;
}

function fileCheckView(check: ProfileFileCheck): SafeHtml {
  return check.valid
    ? html`<p class="verdict-match" id="file-valid">Valid: ${check.profiles.length} profile(s) (${check.profiles.join(', ')}), ${check.tasks} task(s).</p>`
    : html`<div class="verdict-none" id="file-invalid"><p>Not valid, start-up would refuse it:</p><ul>${check.issues.map((i) => html`<li><code>${i}</code></li>`)}</ul></div>`;
}

export function profilesPage(state: ProfilesPageState): SafeHtml {
  const csrf = html`<input type="hidden" name="csrf" value="${state.csrfToken}">`;
  return html`<section>
<h1>Task-profile tester</h1>
<p class="muted">Uses the task profiles this service runs with. Shows series attributes the profiles match on; nothing is stored.</p>
${state.problem ? html`<p class="problem" role="alert">${state.problem}</p>` : ''}
<div class="tester-forms">
<form method="post" action="/ui/profiles/test" class="card">
  <h2>Series metadata</h2>
  ${csrf}
  <label for="metadata">DICOM JSON metadata (WADO-RS <code>/metadata</code> of a series or study)</label>
  <input type="file" accept=".json,application/json,application/dicom+json" data-fills="metadata" aria-label="Upload a metadata file">
  <textarea id="metadata" name="metadata" rows="8" required placeholder='[{"00080060": {"vr": "CS", "Value": ["CT"]}, ...}]'></textarea>
  <button type="submit" class="primary">Test metadata</button>
</form>
${state.canFetchStudy ? html`<form method="post" action="/ui/profiles/test" class="card">
  <h2>Study from the PACS</h2>
  ${csrf}
  <label for="study">Study Instance UID (read from DICOMWEB_URL)</label>
  <input id="study" name="study" required pattern="[0-9.]{1,64}" placeholder="1.2.840...">
  <button type="submit" class="primary">Test study</button>
</form>` : ''}
<form method="post" action="/ui/profiles/validate" class="card">
  <h2>Validate a profile file</h2>
  ${csrf}
  <label for="profile-file">Task profiles (YAML or JSON), checked with the start-up schema</label>
  <input type="file" accept=".yaml,.yml,.json" data-fills="profile-file" aria-label="Upload a profile file">
  <textarea id="profile-file" name="profiles" rows="8" required placeholder="version: 1&#10;profiles: []"></textarea>
  <button type="submit" class="primary">Validate</button>
</form>
</div>
${state.fileCheck ? html`<section class="result"><h2>Profile file</h2>${fileCheckView(state.fileCheck)}</section>` : ''}
${state.report ? html`<section class="result" id="report"><h2>What would run</h2>${reportView(state.report)}</section>` : ''}
</section>`;
}
