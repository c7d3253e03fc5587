import type { TaskProfiles } from './task-profile-schema.ts';

// The built-in task profiles, used when TASK_PROFILES_FILE is not set. default-task-profiles.yaml is
// the same content for users to copy; a test keeps the two equal. Written fully resolved (every
// default spelt out) so that it is exactly what the schema produces from the YAML file.

const ANATOMICAL_STRUCTURE = { value: '123037004', scheme: 'SCT', meaning: 'Anatomical Structure' };

/** UniMedVL's image-editing guidance defaults (segmentation and translation are image-to-image). */
const EDIT_GUIDANCE = {
  textScale: 4,
  imageScale: 2,
  interval: [0, 1] as [number, number],
  renorm: 'text_channel' as const,
  steps: 50,
};

/** The official generator analyses the slice before every edit, with at most 800 decoder calls. */
const ANALYZE_FIRST = { enabled: true, maxNewTokens: 800 };

const REPORT_DECODE = { maxNewTokens: 512, temperature: 0 };

export const DEFAULT_TASK_PROFILES: TaskProfiles = {
  version: 1,
  profiles: [
    {
      name: 'chest-radiograph',
      description: 'Chest X-rays: a report draft with the prompt the UniMedVL paper uses for chest X-rays.',
      match: { modality: ['CR', 'DX'], bodyPart: ['CHEST', 'THORAX'], allowMissingBodyPart: true },
      tasks: [
        {
          id: 'cxr-report',
          kind: 'report',
          enabled: true,
          prompt: 'Generate a concise radiology report with findings and impression for this chest X-ray.',
          slices: { mode: 'middle' },
          decode: REPORT_DECODE,
        },
      ],
    },
    {
      name: 'ct',
      description: 'Every CT series: a report draft over three evenly spaced key slices.',
      match: { modality: ['CT'], allowMissingBodyPart: false },
      tasks: [
        {
          id: 'ct-report',
          kind: 'report',
          enabled: true,
          prompt: 'Generate a concise radiology report with findings and impression for this CT scan.',
          slices: { mode: 'evenly-spaced', count: 3 },
          decode: REPORT_DECODE,
        },
      ],
    },
    {
      name: 'ct-chest',
      description: 'Chest CT: the lungs, segmented on three evenly spaced key slices.',
      match: {
        modality: ['CT'],
        bodyPart: ['CHEST', 'THORAX', 'LUNG', 'CHESTABDOMEN', 'CHESTABDPELVIS'],
        allowMissingBodyPart: false,
      },
      tasks: [
        {
          id: 'ct-lung-segmentation',
          kind: 'segmentation',
          enabled: true,
          prompt: 'Please help me segment the lungs.',
          slices: { mode: 'evenly-spaced', count: 3 },
          guidance: EDIT_GUIDANCE,
          analyzeFirst: ANALYZE_FIRST,
          structure: {
            label: 'Lungs',
            category: ANATOMICAL_STRUCTURE,
            type: { value: '39607008', scheme: 'SCT', meaning: 'Lung' },
            colour: [64, 200, 255],
          },
          threshold: 0.5,
        },
      ],
    },
    {
      name: 'mr',
      description: 'Every MR series: a report draft over three evenly spaced key slices.',
      match: { modality: ['MR'], allowMissingBodyPart: false },
      tasks: [
        {
          id: 'mr-report',
          kind: 'report',
          enabled: true,
          prompt: 'Generate a concise radiology report with findings and impression for this MRI scan.',
          slices: { mode: 'evenly-spaced', count: 3 },
          decode: REPORT_DECODE,
        },
      ],
    },
    {
      name: 'mr-brain',
      description: 'Brain MR: the brain, segmented on three evenly spaced key slices.',
      match: { modality: ['MR'], bodyPart: ['BRAIN', 'HEAD'], allowMissingBodyPart: false },
      tasks: [
        {
          id: 'mr-brain-segmentation',
          kind: 'segmentation',
          enabled: true,
          prompt: 'Please help me segment the brain.',
          slices: { mode: 'evenly-spaced', count: 3 },
          guidance: EDIT_GUIDANCE,
          analyzeFirst: ANALYZE_FIRST,
          structure: {
            label: 'Brain',
            category: ANATOMICAL_STRUCTURE,
            type: { value: '12738006', scheme: 'SCT', meaning: 'Brain' },
            colour: [255, 176, 0],
          },
          threshold: 0.5,
        },
      ],
    },
    {
      name: 'mr-brain-t2-flair',
      description:
        'T2-weighted brain MR: a synthetic FLAIR series (T2->FLAIR synthesis from the paper). Off by default: it writes a new image series that could be mistaken for an acquired one.',
      match: {
        modality: ['MR'],
        bodyPart: ['BRAIN', 'HEAD'],
        allowMissingBodyPart: true,
        seriesDescription: '^(?!.*(flair|t2\\*|t2star)).*\\bt2',
      },
      tasks: [
        {
          id: 'mr-flair-synthesis',
          kind: 'translation',
          enabled: false,
          prompt: 'Synthesize the corresponding FLAIR image from the given T2-weighted brain MRI slice.',
          slices: { mode: 'all', max: 64 },
          guidance: EDIT_GUIDANCE,
          analyzeFirst: ANALYZE_FIRST,
          outputLabel: 'Synthetic FLAIR',
        },
      ],
    },
  ],
};
