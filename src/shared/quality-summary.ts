/**
 * The review outcomes of AI results, per model version and task: the post-market figures a hospital
 * watches before it trusts a model. Written by the review loop, read by GET /quality, /metrics and the
 * operator console. Counts only: no report text, no patient data.
 */
export interface QualityGroup {
  modelVersion: string;
  task: string;
  /** Accepted without change to the AI text. */
  accepted: number;
  /** Accepted after the clinician changed the text. */
  edited: number;
  rejected: number;
  /** No decision within the review window. */
  timedOut: number;
  /** Review Tasks still open. */
  pending: number;
  /** Mean normalised edit distance (0 = unchanged, 1 = all rewritten) over the edited reviews; null when none. */
  meanEditDistance: number | null;
  /** (accepted + edited) / (accepted + edited + rejected + timedOut); null before the first decision. */
  acceptanceRate: number | null;
}

export interface QualitySummary {
  generatedAt: string;
  groups: QualityGroup[];
}

/** What the HTTP layer needs to show the figures; absent when the review loop is off. */
export interface QualitySource {
  summary(): Promise<QualitySummary>;
}
