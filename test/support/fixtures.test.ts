import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readPart10 } from '../../src/dicom/pixels/read-part10.ts';
import { CT_VARIANTS, FIXTURE_PATIENT, ensureFixtures } from './fixtures.ts';
import { MODALITY_SERIES, type ModalityStudyName } from './modality-studies.ts';

describe('ensureFixtures', () => {
  it('gives every sample its own study, series and instance UIDs', async () => {
    const { samples } = await ensureFixtures();
    const all = Object.values(samples);
    for (const key of ['studyInstanceUid', 'seriesInstanceUid', 'sopInstanceUid'] as const) {
      expect(new Set(all.map((s) => s[key])).size).toBe(all.length);
    }
  });

  it('builds a CT series whose variants are separate studies carrying the fixture patient', async () => {
    const ct = await (await ensureFixtures()).ctSeries();
    expect(new Set(CT_VARIANTS.map((v) => ct.variants[v].studyInstanceUid)).size).toBe(CT_VARIANTS.length);
    const { dataset } = readPart10(readFileSync(ct.variants['explicit-le'].files[0]!));
    expect(dataset.string(0x00100010)).toBe(FIXTURE_PATIENT.name);
    expect(dataset.string(0x00100020)).toBe(FIXTURE_PATIENT.id);
    expect(dataset.string(0x00100030)).toBe(FIXTURE_PATIENT.birthDate);
    expect(dataset.string(0x00080050)).toBe(FIXTURE_PATIENT.accessionNumber);
    expect(ct.instanceNumbers).not.toEqual([...ct.instanceNumbers].sort((a, b) => a - b));
    expect(ct.positionsZ).not.toEqual([...ct.positionsZ].sort((a, b) => a - b));
  });

  it('builds the modality studies for another seed and patient as a separate set with that identity', async () => {
    const fixtures = await ensureFixtures();
    const other = { name: 'OTHER^FIXTURE', id: 'FXP-OTHER-9', birthDate: '19800101', accessionNumber: 'ACCOTHER1' };
    const [standard, custom] = await Promise.all([
      fixtures.modalityStudies(),
      fixtures.modalityStudies({ seed: 'another-seed', patient: other }),
    ]);
    expect(custom.patient).toEqual(other);
    for (const name of Object.keys(MODALITY_SERIES) as ModalityStudyName[]) {
      expect(custom.studies[name].studyInstanceUid).not.toBe(standard.studies[name].studyInstanceUid);
      const { dataset } = readPart10(readFileSync(custom.studies[name].files[0]!));
      expect([dataset.string(0x00100010), dataset.string(0x00100020), dataset.string(0x00100030)])
        .toEqual([other.name, other.id, other.birthDate]);
      expect(dataset.string(0x00080050)?.startsWith(other.accessionNumber)).toBe(true);
    }
  });
});
