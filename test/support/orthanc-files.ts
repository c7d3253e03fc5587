// Copies of DICOM files with fresh UIDs (dcmtk's dcmodify), so several copies of one sample can live in
// one PACS. Either every copy gets its own study/series/instance UIDs, or all copies join one series.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** A random UID under the 2.25 root (UUID as a decimal integer). */
export function randomDicomUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replaceAll('-', '')}`).toString(10)}`;
}

export interface CopiedFile {
  path: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
}

/**
 * Copies `sources` into `dir` with new UIDs. With `sameSeries`, all copies share one new study and
 * series (each a new SOP instance); otherwise each copy is its own study and series. `modify` adds
 * dcmodify `-m` assignments after ours, e.g. `(0008,0060)=US` (or a study UID to join an existing study).
 */
export async function copyWithFreshUids(
  sources: readonly string[], dir: string, options: { sameSeries?: boolean; modify?: string[] } = {},
): Promise<CopiedFile[]> {
  mkdirSync(dir, { recursive: true });
  const shared = options.sameSeries ? { study: randomDicomUid(), series: randomDicomUid() } : undefined;
  const copies: CopiedFile[] = [];
  for (const [index, source] of sources.entries()) {
    const target = path.join(dir, `${index}-${path.basename(source)}`);
    copyFileSync(source, target);
    const study = shared?.study ?? randomDicomUid();
    const series = shared?.series ?? randomDicomUid();
    const sop = randomDicomUid();
    await execFileAsync('dcmodify', [
      '-nb', '-imt',
      '-m', `(0020,000d)=${study}`,
      '-m', `(0020,000e)=${series}`,
      '-m', `(0008,0018)=${sop}`,
      ...(options.modify ?? []).flatMap((assignment) => ['-m', assignment]),
      target,
    ]);
    copies.push({ path: target, studyInstanceUid: study, seriesInstanceUid: series, sopInstanceUid: sop });
  }
  return copies;
}
