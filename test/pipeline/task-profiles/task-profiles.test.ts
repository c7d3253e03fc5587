import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ConfigInvalidError } from '../../../src/shared/errors.ts';
import {
  DEFAULT_TASK_PROFILES, loadTaskProfiles, matchTasks, selectSlices, taskProfilesSchema, type TaskProfiles,
} from '../../../src/pipeline/task-profiles/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'task-profiles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const defaultYamlPath = new URL('../../../src/pipeline/task-profiles/default-task-profiles.yaml', import.meta.url);

function expectConfigInvalid(path: string): ConfigInvalidError {
  try {
    loadTaskProfiles(path);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigInvalidError);
    const e = error as ConfigInvalidError;
    expect(e.keys).toEqual(['TASK_PROFILES_FILE']);
    expect(e.detail).toBe('TASK_PROFILES_FILE');
    expect(e.message).toBe('Invalid configuration for: TASK_PROFILES_FILE');
    return e;
  }
  throw new Error('expected loadTaskProfiles to throw');
}

const minimal = (task: object): string =>
  JSON.stringify({ version: 1, profiles: [{ name: 'p', match: { modality: ['CT'] }, tasks: [task] }] });

describe('default task profiles', () => {
  it('the TS const is a fixed point of the schema (fully resolved)', () => {
    expect(taskProfilesSchema.parse(DEFAULT_TASK_PROFILES)).toEqual(DEFAULT_TASK_PROFILES);
  });

  it('the YAML file users copy is the same as the TS const', () => {
    const fromYaml = taskProfilesSchema.parse(parseYaml(readFileSync(defaultYamlPath, 'utf8')));
    expect(fromYaml).toEqual(DEFAULT_TASK_PROFILES);
    expect(loadTaskProfiles(defaultYamlPath.pathname)).toEqual(DEFAULT_TASK_PROFILES);
  });

  it('without a path gives the defaults, frozen', () => {
    const profiles = loadTaskProfiles();
    expect(profiles).toEqual(DEFAULT_TASK_PROFILES);
    expect(Object.isFrozen(profiles.profiles[0]!.tasks[0])).toBe(true);
    expect(loadTaskProfiles('')).toEqual(DEFAULT_TASK_PROFILES);
  });

  it('chest radiographs get the paper chest X-ray report prompt on their one image', () => {
    for (const modality of ['CR', 'dx']) {
      const tasks = matchTasks(DEFAULT_TASK_PROFILES, { modality, bodyPartExamined: 'chest' });
      expect(tasks.map((t) => t.id)).toEqual(['cxr-report']);
      const [task] = tasks;
      expect(task!.kind).toBe('report');
      expect(task!.prompt).toBe('Generate a concise radiology report with findings and impression for this chest X-ray.');
      expect(task!.profile).toBe('chest-radiograph');
    }
    // radiographs without a body part are treated as chest films; other body parts are not
    expect(matchTasks(DEFAULT_TASK_PROFILES, { modality: 'DX' }).map((t) => t.id)).toEqual(['cxr-report']);
    expect(matchTasks(DEFAULT_TASK_PROFILES, { modality: 'DX', bodyPartExamined: 'HAND' })).toEqual([]);
  });

  it('chest CT gets a report over 3 key slices and a lung segmentation with SNOMED codes', () => {
    const tasks = matchTasks(DEFAULT_TASK_PROFILES, { modality: 'CT', bodyPartExamined: 'Chest' });
    expect(tasks.map((t) => [t.id, t.kind])).toEqual([
      ['ct-report', 'report'],
      ['ct-lung-segmentation', 'segmentation'],
    ]);
    expect(tasks[0]!.slices).toEqual({ mode: 'evenly-spaced', count: 3 });
    const seg = tasks[1]!;
    if (seg.kind !== 'segmentation') throw new Error('expected a segmentation task');
    expect(seg.structure.category).toEqual({ value: '123037004', scheme: 'SCT', meaning: 'Anatomical Structure' });
    expect(seg.structure.type).toEqual({ value: '39607008', scheme: 'SCT', meaning: 'Lung' });
    expect(seg.guidance).toEqual({ textScale: 4, imageScale: 2, interval: [0, 1], renorm: 'text_channel', steps: 50 });
  });

  it('CT of another or unknown body part gets the report only', () => {
    expect(matchTasks(DEFAULT_TASK_PROFILES, { modality: 'CT', bodyPartExamined: 'HEAD' }).map((t) => t.id)).toEqual(['ct-report']);
    expect(matchTasks(DEFAULT_TASK_PROFILES, { modality: 'CT' }).map((t) => t.id)).toEqual(['ct-report']);
  });

  it('brain MR gets a report and a brain segmentation; FLAIR synthesis is off by default', () => {
    const t2 = { modality: 'MR', bodyPartExamined: 'BRAIN', seriesDescription: 'AX T2 TSE' };
    expect(matchTasks(DEFAULT_TASK_PROFILES, t2).map((t) => t.id)).toEqual(['mr-report', 'mr-brain-segmentation']);
    expect(matchTasks(DEFAULT_TASK_PROFILES, { modality: 'MR' }).map((t) => t.id)).toEqual(['mr-report']);
  });

  it('modalities without a profile get nothing', () => {
    expect(matchTasks(DEFAULT_TASK_PROFILES, { modality: 'NM' })).toEqual([]);
    expect(matchTasks(DEFAULT_TASK_PROFILES, { modality: 'SEG' })).toEqual([]);
  });

  it('every modality of the paper gets a report, naming its frame policy and windowing', () => {
    const enabled = (modality: string) => matchTasks(DEFAULT_TASK_PROFILES, { modality }).map((t) => [t.id, t.kind, t.slices, t.windowing]);
    expect(enabled('US')).toEqual([['us-report', 'report', { mode: 'evenly-spaced', count: 3 }, 'stored-range']]);
    expect(enabled('SM')).toEqual([['sm-report', 'report', { mode: 'middle' }, 'auto']]);
    expect(enabled('OP')).toEqual([['fundus-report', 'report', { mode: 'middle' }, 'auto']]);
    expect(enabled('OPT')).toEqual([['oct-report', 'report', { mode: 'middle' }, 'stored-range']]);
    expect(enabled('ES')).toEqual([['endoscopy-report', 'report', { mode: 'middle' }, 'auto']]);
    expect(enabled('XC')).toEqual([['photograph-report', 'report', { mode: 'middle' }, 'auto']]);
    expect(enabled('GM')).toEqual([['microscopy-report', 'report', { mode: 'middle' }, 'auto']]);
    // A 16-frame cine gives its frames 3, 9 and 14; an 11-frame OCT its 6th B-scan; one frame is itself.
    expect(selectSlices(16, { mode: 'evenly-spaced', count: 3 })).toEqual([2, 8, 13]);
    expect(selectSlices(11, { mode: 'middle' })).toEqual([5]);
    expect(selectSlices(1, { mode: 'evenly-spaced', count: 3 })).toEqual([0]);
  });

  it("the paper's image-to-image tasks are present and off by default", () => {
    const all = DEFAULT_TASK_PROFILES.profiles.flatMap((p) => p.tasks.map((t) => ({ ...t, profile: p.name })));
    const translations = all.filter((t) => t.kind === 'translation');
    expect(translations.map((t) => [t.id, t.enabled, t.kind === 'translation' ? t.outputScale : 0])).toEqual([
      ['mr-flair-synthesis', false, 1], ['mr-t2-synthesis', false, 1], ['mr-super-resolution', false, 4], ['sm-ihc-staining', false, 1],
    ]);
    const flair = { modality: 'MR', bodyPartExamined: 'BRAIN', seriesDescription: 'AX T2 FLAIR' };
    expect(matchTasks(DEFAULT_TASK_PROFILES, flair).map((t) => t.id)).toEqual(['mr-report', 'mr-brain-segmentation']);
  });
});

describe('matchTasks with a custom file', () => {
  it('enabling the FLAIR synthesis runs it on T2 series only, by series description regex', () => {
    const text = readFileSync(defaultYamlPath, 'utf8').replace(
      'enabled: false   # set true to write a derived "Synthetic FLAIR" series',
      'enabled: true',
    );
    const profiles = loadTaskProfiles(writeFile('flair-on.yaml', text));
    const ids = (seriesDescription: string | undefined): string[] =>
      matchTasks(profiles, { modality: 'MR', bodyPartExamined: 'head', seriesDescription }).map((t) => t.id);
    expect(ids('Ax T2 FSE')).toContain('mr-flair-synthesis');
    expect(ids('t2_tse_tra')).toContain('mr-flair-synthesis');
    expect(ids('AX T2 FLAIR')).not.toContain('mr-flair-synthesis');
    expect(ids('T2* GRE')).not.toContain('mr-flair-synthesis');
    expect(ids('T1 MPRAGE')).not.toContain('mr-flair-synthesis');
    expect(ids(undefined)).not.toContain('mr-flair-synthesis');
    const synthesis = matchTasks(profiles, { modality: 'MR', bodyPartExamined: 'BRAIN', seriesDescription: 'T2' }).at(-1)!;
    expect(synthesis.kind === 'translation' && synthesis.outputLabel).toBe('Synthetic FLAIR');
  });

  it('fills defaults for omitted decode, guidance, slices, threshold and scheme', () => {
    const yaml = `
version: 1
profiles:
  - name: us
    match: { modality: [US], bodyPart: [ABDOMEN] }
    tasks:
      - { id: us-report, kind: report, prompt: Describe this ultrasound. }
      - id: us-liver
        kind: segmentation
        prompt: Please help me segment the liver.
        structure:
          label: Liver
          category: { value: '123037004', meaning: Anatomical Structure }
          type: { value: '10200004', meaning: Liver }
          colour: [1, 2, 3]
`;
    const profiles = loadTaskProfiles(writeFile('us.yaml', yaml));
    const [report, seg] = matchTasks(profiles, { modality: 'US', bodyPartExamined: 'abdomen' });
    expect(report).toMatchObject({ kind: 'report', decode: { maxNewTokens: 512, temperature: 0 }, slices: { mode: 'middle' }, enabled: true });
    expect(seg).toMatchObject({
      kind: 'segmentation',
      threshold: 0.5,
      guidance: { textScale: 4, imageScale: 2, interval: [0, 1], renorm: 'text_channel', steps: 50 },
      structure: { type: { value: '10200004', scheme: 'SCT', meaning: 'Liver' } },
    });
    // a body part rule without allowMissingBodyPart does not match series lacking the attribute
    expect(matchTasks(profiles, { modality: 'US' })).toEqual([]);
  });

  it('reads JSON too', () => {
    const path = writeFile('p.json', minimal({ id: 'r', kind: 'report', prompt: 'x', slices: { mode: 'all', max: 4 } }));
    expect(matchTasks(loadTaskProfiles(path), { modality: 'ct' })).toMatchObject([{ id: 'r', profile: 'p', slices: { mode: 'all', max: 4 } }]);
  });

  it('skips disabled tasks', () => {
    const path = writeFile('off.json', minimal({ id: 'r', kind: 'report', prompt: 'x', enabled: false }));
    expect(matchTasks(loadTaskProfiles(path), { modality: 'CT' })).toEqual([]);
  });
});

describe('loadTaskProfiles rejects bad files with ConfigInvalidError naming only TASK_PROFILES_FILE', () => {
  const cases: [string, string][] = [
    ['not YAML', 'version: 1\nprofiles: [\n'],
    ['wrong version', '{"version": 2, "profiles": []}'],
    ['unknown kind', minimal({ id: 'r', kind: 'classify', prompt: 'x' })],
    ['unknown field (typo)', minimal({ id: 'r', kind: 'report', prompt: 'x', promt: 'y' })],
    ['segmentation without structure', minimal({ id: 's', kind: 'segmentation', prompt: 'x' })],
    ['bad regex', JSON.stringify({ version: 1, profiles: [{ name: 'p', match: { modality: ['CT'], seriesDescription: '(' }, tasks: [{ id: 'r', kind: 'report', prompt: 'x' }] }] })],
    ['empty modality list', JSON.stringify({ version: 1, profiles: [{ name: 'p', match: { modality: [] }, tasks: [{ id: 'r', kind: 'report', prompt: 'x' }] }] })],
    ['bad slice policy', minimal({ id: 'r', kind: 'report', prompt: 'x', slices: { mode: 'evenly-spaced' } })],
    ['reversed guidance interval', minimal({ id: 't', kind: 'translation', prompt: 'x', outputLabel: 'y', guidance: { interval: [0.8, 0.2] } })],
    ['renorm not allowed', minimal({ id: 't', kind: 'translation', prompt: 'x', outputLabel: 'y', guidance: { renorm: 'channel' } })],
    ['colour out of range', minimal({ id: 's', kind: 'segmentation', prompt: 'x', structure: { label: 'L', category: { value: '1', meaning: 'c' }, type: { value: '2', meaning: 't' }, colour: [0, 0, 256] } })],
    ['bad task id', minimal({ id: 'Has Spaces', kind: 'report', prompt: 'x' })],
    [
      'duplicate task id',
      JSON.stringify({
        version: 1,
        profiles: [
          { name: 'a', match: { modality: ['CT'] }, tasks: [{ id: 'r', kind: 'report', prompt: 'x' }] },
          { name: 'b', match: { modality: ['MR'] }, tasks: [{ id: 'r', kind: 'report', prompt: 'x' }] },
        ],
      }),
    ],
  ];
  it.each(cases)('%s', (name, text) => {
    const error = expectConfigInvalid(writeFile(`${name.replace(/\W+/g, '-')}.yaml`, text));
    expect(error.cause).toBeDefined();
  });

  it('a missing file', () => {
    expectConfigInvalid(join(dir, 'does-not-exist.yaml'));
  });

  it('the schema reason is kept in the cause, not the message', () => {
    const error = expectConfigInvalid(writeFile('why.json', minimal({ id: 'r', kind: 'classify', prompt: 'x' })));
    expect(String((error.cause as Error).message)).toContain('profiles.0.tasks.0');
  });
});

describe('selectSlices', () => {
  it('middle', () => {
    expect(selectSlices(1, { mode: 'middle' })).toEqual([0]);
    expect(selectSlices(4, { mode: 'middle' })).toEqual([2]);
    expect(selectSlices(5, { mode: 'middle' })).toEqual([2]);
  });

  it('evenly spaced: bin centres, sorted, unique, all slices when count >= depth', () => {
    expect(selectSlices(5, { mode: 'evenly-spaced', count: 3 })).toEqual([0, 2, 4]);
    expect(selectSlices(100, { mode: 'evenly-spaced', count: 3 })).toEqual([16, 50, 83]);
    expect(selectSlices(10, { mode: 'evenly-spaced', count: 1 })).toEqual([5]);
    expect(selectSlices(2, { mode: 'evenly-spaced', count: 3 })).toEqual([0, 1]);
    expect(selectSlices(1, { mode: 'evenly-spaced', count: 3 })).toEqual([0]);
    for (let depth = 1; depth < 60; depth++) {
      for (const count of [1, 2, 3, 7]) {
        const picks = selectSlices(depth, { mode: 'evenly-spaced', count });
        expect(picks).toHaveLength(Math.min(count, depth));
        expect([...picks].sort((a, b) => a - b)).toEqual(picks);
        expect(new Set(picks).size).toBe(picks.length);
        expect(picks.every((i) => i >= 0 && i < depth)).toBe(true);
        expect(selectSlices(depth, { mode: 'evenly-spaced', count })).toEqual(picks);
      }
    }
  });

  it('all, capped by max', () => {
    expect(selectSlices(4, { mode: 'all', max: 64 })).toEqual([0, 1, 2, 3]);
    expect(selectSlices(10, { mode: 'all', max: 5 })).toEqual([1, 3, 5, 7, 9]);
    expect(selectSlices(200, { mode: 'all', max: 64 })).toHaveLength(64);
  });

  it('empty volume and invalid depth', () => {
    expect(selectSlices(0, { mode: 'middle' })).toEqual([]);
    expect(() => selectSlices(-1, { mode: 'middle' })).toThrow(RangeError);
    expect(() => selectSlices(2.5, { mode: 'middle' })).toThrow(RangeError);
  });
});

// Type-level check that the exported profile type is what loadTaskProfiles returns.
const _typed: TaskProfiles = loadTaskProfiles();
void _typed;
