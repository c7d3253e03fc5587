import { createHash } from 'node:crypto';

export interface IdentitySeries {
  seriesInstanceUid: string;
  sopInstanceUids: readonly string[];
}

/**
 * What a run's results depend on, as one hash: the study, the exact series and instances analyzed, and
 * the analysis version (model version + task profiles). Two runs with the same identity would write the
 * same results, so the second is a no-op. Order-independent: sorted before hashing.
 */
export function inputIdentity(studyInstanceUid: string, series: readonly IdentitySeries[], analysisVersion: string): string {
  const canonical = {
    study: studyInstanceUid,
    series: [...series]
      .map((s) => ({ uid: s.seriesInstanceUid, instances: [...s.sopInstanceUids].sort() }))
      .sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0)),
    analysis: analysisVersion,
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 32);
}
