/** The banner every locally rendered result carries (UniMedVL's weights are for research use only). */
export const DRAFT_BANNER =
  'AI-generated draft — research use only, not for clinical decisions — preliminary, requires review by a qualified clinician';
