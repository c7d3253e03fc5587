/**
 * Model text made fit for FHIR strings and DICOM text: control characters other than tab and line
 * breaks removed (FHIR forbids them; a byte-level tokenizer can emit them), line endings normalized,
 * outer whitespace trimmed. An empty result is said out loud rather than left blank.
 */
export function cleanModelText(text: string): string {
  const cleaned = text
    .replace(/\r\n?/g, '\n')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFE\uFFFF]/g, '')
    .trim();
  return cleaned.length > 0 ? cleaned : '(The model produced no text.)';
}
