import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readPart10 } from '../../../src/dicom/pixels/read-part10.ts';
import { DEFAULT_TASK_PROFILES, matchTasks } from '../../../src/pipeline/task-profiles/index.ts';

// The committed demo study (scripts/make-sample-study.py) against the default profiles: every series
// gets the tasks README.md promises.
const dir = fileURLToPath(new URL('../../../samples/sample-study/', import.meta.url));
const TAG = {
  StudyInstanceUID: 0x0020000d, SeriesInstanceUID: 0x0020000e, Modality: 0x00080060,
  BodyPartExamined: 0x00180015, SeriesDescription: 0x0008103e, PatientName: 0x00100010, PatientID: 0x00100020,
};

const files = readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort();
const datasets = files.map((f) => ({ file: f, ds: readPart10(readFileSync(join(dir, f))).dataset }));

describe('sample study fixture', () => {
  it('is one small study of a fake patient', () => {
    expect(files).toEqual(['ct-01.dcm', 'ct-02.dcm', 'ct-03.dcm', 'ct-04.dcm', 'ct-05.dcm', 'dx-01.dcm', 'mr-01.dcm']);
    const total = readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
    expect(total).toBeLessThan(1.5 * 1024 * 1024);
    expect(new Set(datasets.map(({ ds }) => ds.string(TAG.StudyInstanceUID))).size).toBe(1);
    expect(datasets.every(({ ds }) => ds.string(TAG.StudyInstanceUID)!.startsWith('2.25.'))).toBe(true);
    expect(new Set(datasets.map(({ ds }) => ds.string(TAG.PatientName)))).toEqual(new Set(['DEMO^SAMPLE']));
    expect(new Set(datasets.map(({ ds }) => ds.string(TAG.PatientID)))).toEqual(new Set(['DEMO-0001']));
    expect(new Set(datasets.map(({ ds }) => ds.string(TAG.SeriesInstanceUID))).size).toBe(3);
  });

  it('gets report + lung segmentation on CT, a report on MR and the chest X-ray report on DX', () => {
    const tasksByModality = new Map<string, string[]>();
    for (const { ds } of datasets) {
      const modality = ds.string(TAG.Modality)!;
      const ids = matchTasks(DEFAULT_TASK_PROFILES, {
        modality,
        bodyPartExamined: ds.string(TAG.BodyPartExamined),
        seriesDescription: ds.string(TAG.SeriesDescription),
      }).map((t) => t.id);
      tasksByModality.set(modality, ids);
    }
    expect(Object.fromEntries(tasksByModality)).toEqual({
      CT: ['ct-report', 'ct-lung-segmentation'],
      MR: ['mr-report'],
      DX: ['cxr-report'],
    });
  });
});
