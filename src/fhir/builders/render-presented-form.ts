// The DiagnosticReport's presentedForm: the AI report as escaped HTML under the research-use notice.
import { escapeHtml } from '../../shared/escape-html.ts';
import { RESEARCH_USE_STATEMENT } from '../../shared/research-use-notice.ts';
import type { MeasurementInput, ModelInput } from './result-input.ts';

export function renderPresentedFormHtml(input: { model: ModelInput; reportText: string; measurements?: MeasurementInput[]; recordedAt: string }): string {
  const paragraphs = input.reportText.split(/\n{2,}/).map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>')}</p>`).join('\n');
  const rows = (input.measurements ?? [])
    .map((m) => `<tr><td>${escapeHtml(m.code.display ?? m.code.code)}</td><td>${escapeHtml(String(m.value))}</td><td>${escapeHtml(m.unit)}</td></tr>`)
    .join('\n');
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8"><title>AI preliminary imaging report</title></head><body>',
    `<div class="research-use-banner" role="alert" style="border:2px solid #b00;padding:8px;font-weight:bold">${escapeHtml(RESEARCH_USE_STATEMENT)}</div>`,
    '<h1>AI preliminary imaging report</h1>',
    `<p>Model: ${escapeHtml(input.model.name)} ${escapeHtml(input.model.version)} (${escapeHtml(input.model.manufacturer)}). Generated ${escapeHtml(input.recordedAt)}.</p>`,
    paragraphs,
    rows ? `<h2>Measurements</h2>\n<table><thead><tr><th>Measurement</th><th>Value</th><th>Unit</th></tr></thead><tbody>\n${rows}\n</tbody></table>` : '',
    '</body></html>',
  ].filter(Boolean).join('\n');
}
