export { escapeHtml } from '../../shared/escape-html.ts';
export { DEFAULT_MASK_COLOUR, DEFAULT_MASK_OPACITY, blendChannel, renderKeyImagePng, type KeyImageInput, type Rgb } from './render-key-image.ts';
export {
  renderReportHtml, type KeyImageRef, type ReportPageInput, type ReportSection, type StudySummaryItem,
} from './render-report-html.ts';
export {
  FHIR_BUNDLE_FILE, REPORT_HTML_FILE, localOutputPaths, writeLocalOutputs, type LocalOutputs, type NamedBytes,
} from './write-local-outputs.ts';
