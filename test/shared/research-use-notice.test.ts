import { describe, expect, it } from 'vitest';
import { RESEARCH_USE_LABEL, RESEARCH_USE_NOTICE, RESEARCH_USE_STATEMENT } from '../../src/shared/research-use-notice.ts';

describe('the research-use notice', () => {
  it('says AI-generated, research use, not for clinical decisions, in a DICOM LO (64 characters)', () => {
    expect(RESEARCH_USE_NOTICE).toMatch(/^AI-generated, research use only, not for clinical decisions$/);
    expect(RESEARCH_USE_NOTICE.length).toBeLessThanOrEqual(64);
    expect(RESEARCH_USE_NOTICE).toContain(RESEARCH_USE_LABEL);
  });

  it('adds, in free text, that a result is preliminary and needs a clinician', () => {
    expect(RESEARCH_USE_STATEMENT.startsWith(RESEARCH_USE_NOTICE)).toBe(true);
    expect(RESEARCH_USE_STATEMENT).toMatch(/preliminary, requires review by a qualified clinician\.$/);
  });
});
