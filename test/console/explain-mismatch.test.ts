import { describe, expect, it } from 'vitest';
import { checkProfileFile, explainMismatch, explainSeries, matchTasks, taskProfilesSchema, DEFAULT_TASK_PROFILES } from '../../src/pipeline/task-profiles/index.ts';
import type { SeriesAttributes } from '../../src/pipeline/task-profiles/index.ts';

const profiles = taskProfilesSchema.parse({
  version: 1,
  profiles: [
    { name: 'chest-ct', match: { modality: ['CT'], bodyPart: ['CHEST'], seriesDescription: 'lung|thorax' },
      tasks: [{ id: 'ct-report', kind: 'report', prompt: 'Describe.', slices: { mode: 'evenly-spaced', count: 3 } },
        { id: 'ct-off', kind: 'report', prompt: 'Off.', enabled: false }] },
    { name: 'any-mr', match: { modality: ['mr'], bodyPart: ['BRAIN'], allowMissingBodyPart: true },
      tasks: [{ id: 'mr-report', kind: 'report', prompt: 'Describe.' }] },
  ],
});

const dataset = (attrs: Record<string, string | number>) => Object.fromEntries(Object.entries(attrs).map(([tag, v]) => [tag, { vr: typeof v === 'number' ? 'IS' : 'CS', Value: [v] }]));

describe('explainMismatch', () => {
  const cases: SeriesAttributes[] = [
    { modality: 'CT', bodyPartExamined: 'CHEST', seriesDescription: 'Lung 1mm' },
    { modality: 'ct', bodyPartExamined: 'chest ', seriesDescription: 'THORAX' },
    { modality: 'CT', bodyPartExamined: 'HEAD', seriesDescription: 'Lung' },
    { modality: 'CT', seriesDescription: 'Lung' },
    { modality: 'CT', bodyPartExamined: 'CHEST' },
    { modality: 'SR' },
    { modality: 'MR' },
    { modality: 'MR', bodyPartExamined: 'KNEE' },
    { modality: '' },
  ];

  it('finds no reason exactly when matchTasks takes the profile', () => {
    for (const series of cases) {
      const taken = new Set(matchTasks(profiles, series).map((t) => t.profile));
      for (const profile of profiles.profiles) {
        expect(explainMismatch(profile, series).length === 0, `${profile.name} ${JSON.stringify(series)}`).toBe(taken.has(profile.name));
      }
    }
  });

  it('names every failed rule in the order they are checked', () => {
    const reasons = explainMismatch(profiles.profiles[0]!, { modality: 'SR', bodyPartExamined: 'HEAD', seriesDescription: 'Report' });
    expect(reasons.map((r) => r.field)).toEqual(['modality', 'bodyPart', 'seriesDescription']);
    expect(reasons[0]!.message).toBe('Modality SR is not one of CT');
    expect(reasons[1]!.message).toBe('BodyPartExamined HEAD is not one of CHEST');
    expect(reasons[2]!.message).toContain('/lung|thorax/i');
  });

  it('says when a missing body part is not allowed, and accepts it where it is', () => {
    expect(explainMismatch(profiles.profiles[0]!, { modality: 'CT', seriesDescription: 'lung' })[0]!.message).toContain('allowMissingBodyPart is false');
    expect(explainMismatch(profiles.profiles[1]!, { modality: 'MR' })).toEqual([]);
  });
});

describe('explainSeries', () => {
  it('groups instances by series and plans the slices of each matched task', () => {
    const ct = Array.from({ length: 30 }, () => dataset({ '0020000E': '1.2.3', '00080060': 'CT', '00180015': 'CHEST', '0008103E': 'Lung', '00200011': 2 }));
    const sr = [dataset({ '0020000E': '1.2.4', '00080060': 'SR' })];
    const report = explainSeries(profiles, [...ct, ...sr], ['CT', 'MR']);
    expect(report.series).toHaveLength(2);
    const [ctVerdict, srVerdict] = report.series;
    expect(ctVerdict).toMatchObject({ modality: 'CT', instances: 30, depth: 30, seriesNumber: 2, selectedForAnalysis: true });
    expect(ctVerdict!.profiles[0]).toMatchObject({ matched: true, tasks: [{ id: 'ct-report', slices: [5, 15, 25] }], disabledTasks: ['ct-off'] });
    expect(ctVerdict!.profiles[1]!.matched).toBe(false);
    expect(srVerdict).toMatchObject({ modality: 'SR', selectedForAnalysis: false });
    expect(srVerdict!.profiles.every((p) => !p.matched && p.reasons.length > 0)).toBe(true);
  });

  it('takes the frames of a single multi-frame instance as its depth', () => {
    const report = explainSeries(DEFAULT_TASK_PROFILES, [dataset({ '0020000E': '9', '00080060': 'US', '00280008': 12 })], ['US']);
    expect(report.series[0]!.depth).toBe(12);
  });

  it('refuses input that is not DICOM JSON datasets', () => {
    expect(() => explainSeries(profiles, [1, 2], [])).toThrow(TypeError);
  });
});

describe('checkProfileFile', () => {
  it('accepts a valid file and lists its profiles', () => {
    expect(checkProfileFile('version: 1\nprofiles:\n  - name: a\n    match: { modality: [CT] }\n    tasks: [{ id: t, kind: report, prompt: P }]\n'))
      .toEqual({ valid: true, profiles: ['a'], tasks: 1 });
  });
  it('names the schema path of each problem, as start-up would', () => {
    const check = checkProfileFile('version: 1\nprofiles:\n  - name: a\n    match: { modality: [CT] }\n    tasks: [{ id: T!, kind: nope, prompt: P }]\n');
    expect(check.valid).toBe(false);
    if (!check.valid) expect(check.issues.join('\n')).toMatch(/profiles\.0\.tasks\.0/);
  });
  it('refuses text that is not YAML', () => {
    expect(checkProfileFile('a: [').valid).toBe(false);
  });
});
