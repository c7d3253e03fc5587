import { escapeHtml } from '../../shared/escape-html.ts';
import { RESEARCH_USE_STATEMENT } from '../../shared/research-use-notice.ts';

export interface ReportSection {
  /** e.g. "CT — Chest (ct-report)" */
  heading: string;
  text: string;
}

export interface KeyImageRef {
  /** Path relative to report.html, e.g. "images/ct-lung-segmentation-2.png". */
  file: string;
  caption: string;
}

export interface StudySummaryItem {
  label: string;
  value: string;
}

export interface ReportPageInput {
  title: string;
  /** One report text, or one section per task/series. Shown with its line breaks and spacing. */
  reportText: string | readonly ReportSection[];
  modelName: string;
  modelVersion: string;
  keyImages: readonly KeyImageRef[];
  studySummary: readonly StudySummaryItem[];
  generatedAt: Date;
  /** Paths (relative to the output folder) of every file written next to the page. */
  files: readonly string[];
}

/** Relative paths only: the page must open from any folder (and from a zip) without a network. */
const RELATIVE_PATH = /^(?![/\\])(?!.*(?:^|[/\\])\.\.(?:[/\\]|$))[A-Za-z0-9._\-/]+$/;

function relativeSrc(file: string): string {
  if (!RELATIVE_PATH.test(file)) throw new TypeError('key image paths must be relative paths inside the output folder');
  return file.split('/').map(encodeURIComponent).join('/');
}

const STYLE = `
:root { color-scheme: light; --ink: #1d232b; --muted: #5b6570; --line: #d9dee3; --warn-bg: #fff4d6; --warn-ink: #6b4500; --warn-line: #e0a800; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #f4f6f8; }
.banner { position: sticky; top: 0; z-index: 1; margin: 0; padding: 14px 24px; background: var(--warn-bg); color: var(--warn-ink); border-bottom: 3px solid var(--warn-line); font-weight: 600; font-size: 17px; }
main { max-width: 1040px; margin: 24px auto 48px; padding: 0 24px; }
header h1 { margin: 0 0 4px; font-size: 28px; line-height: 1.25; }
.meta { margin: 0; color: var(--muted); font-size: 14px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 18px 22px; margin-top: 20px; }
h2 { margin: 0 0 12px; font-size: 19px; }
h3 { margin: 18px 0 6px; font-size: 16px; }
h3:first-of-type { margin-top: 0; }
dl.study { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
dl.study dt { color: var(--muted); }
dl.study dd { margin: 0; overflow-wrap: anywhere; }
.report-text { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; padding: 12px 14px; background: #fafbfc; border-left: 4px solid var(--warn-line); font: inherit; }
.images { display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); gap: 18px; }
figure { margin: 0; }
figure img { display: block; width: 100%; height: auto; background: #000; border-radius: 4px; image-rendering: pixelated; }
figcaption { margin-top: 6px; font-size: 14px; color: var(--muted); }
ul.files { margin: 0; padding-left: 20px; columns: 2 320px; }
code { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
footer { margin-top: 24px; color: var(--muted); font-size: 13px; }
@media print { .banner { position: static; } body { background: #fff; } section { break-inside: avoid; } }
`;

function sectionsOf(reportText: ReportPageInput['reportText']): readonly ReportSection[] {
  return typeof reportText === 'string' ? [{ heading: '', text: reportText }] : reportText;
}

/**
 * The local report page of `analyze --out`: one self-contained HTML file (inline CSS, no scripts, no
 * external assets; images referenced relatively). All text is escaped, so report text or captions
 * can never inject markup.
 */
export function renderReportHtml(input: ReportPageInput): string {
  const e = escapeHtml;
  const sections = sectionsOf(input.reportText);
  const reportHtml = sections.length === 0
    ? '<p class="meta">No report text was generated.</p>'
    : sections
      .map((s) => `${s.heading ? `<h3>${e(s.heading)}</h3>\n` : ''}<div class="report-text">${e(s.text)}</div>`)
      .join('\n');
  const study = input.studySummary.map((i) => `<dt>${e(i.label)}</dt><dd>${e(i.value)}</dd>`).join('\n');
  const images = input.keyImages
    .map((img) => `<figure><img src="${e(relativeSrc(img.file))}" alt="${e(img.caption)}"><figcaption>${e(img.caption)}</figcaption></figure>`)
    .join('\n');
  const files = input.files.map((f) => `<li><code>${e(f)}</code></li>`).join('\n');
  const generated = input.generatedAt.toISOString();

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self' file: data:; style-src 'unsafe-inline'">
<title>${e(input.title)} — AI-generated draft</title>
<style>${STYLE}</style>
</head>
<body>
<p class="banner" role="note"><span aria-hidden="true">&#9888;&#xFE0E; </span>${e(RESEARCH_USE_STATEMENT)}</p>
<main>
<header>
<h1>${e(input.title)}</h1>
<p class="meta">Model: ${e(input.modelName)} ${e(input.modelVersion)} · Generated: <time datetime="${e(generated)}">${e(generated)}</time></p>
</header>
<section aria-labelledby="study-h"><h2 id="study-h">Study</h2>
<dl class="study">
${study}
</dl>
</section>
<section aria-labelledby="report-h"><h2 id="report-h">Report draft</h2>
${reportHtml}
</section>
${input.keyImages.length > 0 ? `<section aria-labelledby="images-h"><h2 id="images-h">Key images</h2>
<div class="images">
${images}
</div>
</section>` : ''}
<section aria-labelledby="files-h"><h2 id="files-h">Files written</h2>
<p class="meta">Next to this page: DICOM results (SEG / SC / SR) for a PACS, a FHIR Bundle with the preliminary DiagnosticReport, and the key images.</p>
<ul class="files">
${files}
</ul>
</section>
<footer>${e(RESEARCH_USE_STATEMENT)} Generated by ${e(input.modelName)} ${e(input.modelVersion)}.</footer>
</main>
</body>
</html>
`;
}
