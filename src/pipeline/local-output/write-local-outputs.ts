import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface NamedBytes {
  /** A plain file name (no folders), e.g. "ct-lung-segmentation.dcm". */
  name: string;
  bytes: Uint8Array;
}

export interface LocalOutputs {
  dicomFiles: readonly NamedBytes[];
  fhirBundle: object;
  html: string;
  pngs: readonly NamedBytes[];
}

export const FHIR_BUNDLE_FILE = 'fhir-bundle.json';
export const REPORT_HTML_FILE = 'report.html';

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function checkName(name: string, extension: string): void {
  if (!SAFE_NAME.test(name) || !name.toLowerCase().endsWith(extension)) {
    throw new TypeError(`output file names must be plain names ending in ${extension}`);
  }
}

function checkUnique(names: readonly string[]): void {
  if (new Set(names).size !== names.length) throw new TypeError('output file names must be unique');
}

/**
 * The relative paths writeLocalOutputs writes, in the order it writes them (report.html last, so a
 * present report means a complete folder). Pure: use it to list the files inside the report page.
 */
export function localOutputPaths(files: { dicomFiles: readonly { name: string }[]; pngs: readonly { name: string }[] }): string[] {
  files.dicomFiles.forEach((f) => checkName(f.name, '.dcm'));
  files.pngs.forEach((f) => checkName(f.name, '.png'));
  checkUnique(files.dicomFiles.map((f) => f.name));
  checkUnique(files.pngs.map((f) => f.name));
  return [
    ...files.dicomFiles.map((f) => `dicom/${f.name}`),
    ...files.pngs.map((f) => `images/${f.name}`),
    FHIR_BUNDLE_FILE,
    REPORT_HTML_FILE,
  ];
}

/**
 * Writes the `analyze --out` folder: dicom/*.dcm, images/*.png, fhir-bundle.json and report.html.
 * Existing files of the same names are replaced. Returns the written paths relative to outDir.
 */
export function writeLocalOutputs(outDir: string, outputs: LocalOutputs): string[] {
  const paths = localOutputPaths(outputs);
  mkdirSync(join(outDir, 'dicom'), { recursive: true });
  mkdirSync(join(outDir, 'images'), { recursive: true });
  for (const f of outputs.dicomFiles) writeFileSync(join(outDir, 'dicom', f.name), f.bytes);
  for (const f of outputs.pngs) writeFileSync(join(outDir, 'images', f.name), f.bytes);
  writeFileSync(join(outDir, FHIR_BUNDLE_FILE), `${JSON.stringify(outputs.fhirBundle, null, 2)}\n`);
  writeFileSync(join(outDir, REPORT_HTML_FILE), outputs.html);
  return paths;
}
