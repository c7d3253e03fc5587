// The one research-use notice: UniMedVL's weights are published for research only, so every result,
// report, Task and terminal summary says so in these words (README, "Research use only").

/** The short label, for titles, displays and series descriptions. */
export const RESEARCH_USE_LABEL = 'research use only';

/** The notice itself. 59 characters, so it fits every DICOM LO field (ContentDescription: 64). */
export const RESEARCH_USE_NOTICE = `AI-generated, ${RESEARCH_USE_LABEL}, not for clinical decisions`;

/** What must happen before anyone acts on a result. */
export const REVIEW_REQUIRED = 'preliminary, requires review by a qualified clinician';

/** The notice with the review requirement, for free text: FHIR notes, report banners, the CLI summary. */
export const RESEARCH_USE_STATEMENT = `${RESEARCH_USE_NOTICE}; ${REVIEW_REQUIRED}.`;
