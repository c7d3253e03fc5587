import type { ReportTask, TaskDefinition, TaskProfile, TaskProfiles, Windowing } from './task-profile-schema.ts';

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

/** A report task on the middle (or only) image, the shape most 2-D modalities share. */
function middleReport(id: string, prompt: string, windowing: Windowing = 'auto'): ReportTask {
  return { id, kind: 'report', enabled: true, prompt, slices: { mode: 'middle' }, windowing, decode: REPORT_DECODE };
}

/** One profile per DICOM modality (no body-part rule). */
function modalityProfile(name: string, description: string, modality: string, tasks: TaskDefinition[]): TaskProfile {
  return { name, description, match: { modality: [modality], allowMissingBodyPart: false }, tasks };
}

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
          windowing: 'auto',
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
          windowing: 'auto',
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
          windowing: 'auto',
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
          windowing: 'auto',
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
          windowing: 'auto',
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
          windowing: 'auto',
          guidance: EDIT_GUIDANCE,
          analyzeFirst: ANALYZE_FIRST,
          outputLabel: 'Synthetic FLAIR',
          outputScale: 1,
        },
      ],
    },
    {
      name: 'mr-flair-t2',
      description:
        'FLAIR brain MR: a synthetic T2 series (FLAIR->T2 synthesis from the paper). Off by default: it writes a new image series that could be mistaken for an acquired one.',
      match: { modality: ['MR'], bodyPart: ['BRAIN', 'HEAD'], allowMissingBodyPart: true, seriesDescription: 'flair' },
      tasks: [
        {
          id: 'mr-t2-synthesis',
          kind: 'translation',
          enabled: false,
          prompt: 'Synthesize the corresponding T2-weighted image from the given FLAIR brain MRI slice.',
          slices: { mode: 'all', max: 64 },
          windowing: 'auto',
          guidance: EDIT_GUIDANCE,
          outputLabel: 'Synthetic T2',
          outputScale: 1,
          analyzeFirst: ANALYZE_FIRST,
        },
      ],
    },
    modalityProfile(
      'mr-super-resolution',
      'Every MR series: 4x super-resolution (from the paper). Off by default: the sharper derived series could be mistaken for an acquired one.',
      'MR',
      [{
        id: 'mr-super-resolution',
        kind: 'translation',
        enabled: false,
        prompt: 'Generate the 4x super-resolution version of the given low-resolution MRI slice.',
        slices: { mode: 'all', max: 64 },
        windowing: 'auto',
        guidance: EDIT_GUIDANCE,
        outputLabel: 'Synthetic 4x super-resolution',
        outputScale: 4,
        analyzeFirst: ANALYZE_FIRST,
      }],
    ),
    modalityProfile(
      'ultrasound',
      'Ultrasound: single frames, and multi-frame cine loops (three frames, at the centres of the first, middle and last third of the loop).',
      'US',
      [{
        id: 'us-report',
        kind: 'report',
        enabled: true,
        prompt: 'Generate a concise report with findings and impression for this ultrasound image.',
        slices: { mode: 'evenly-spaced', count: 3 },
        windowing: 'stored-range',
        decode: REPORT_DECODE,
      }],
    ),
    modalityProfile(
      'whole-slide',
      'Whole-slide microscopy (SM): a report on the pyramid level nearest the model input size, assembled from its tiles.',
      'SM',
      [
        middleReport('sm-report', 'Describe the histopathological findings in this H&E stained whole-slide image.'),
        {
          id: 'sm-ihc-staining',
          kind: 'translation',
          enabled: false,
          prompt: 'Synthesize a HER2 IHC image with 2+ expression level from the given H&E stained pathology input.',
          slices: { mode: 'middle' },
          windowing: 'auto',
          guidance: EDIT_GUIDANCE,
          outputLabel: 'Synthetic HER2 IHC',
          outputScale: 1,
          analyzeFirst: ANALYZE_FIRST,
        },
      ],
    ),
    modalityProfile('fundus', 'Fundus photographs (OP).', 'OP',
      [middleReport('fundus-report', 'Generate a concise report with findings and impression for this fundus photograph.')]),
    modalityProfile('oct', 'Retinal OCT (OPT): the central B-scan of the volume (through the fovea on a macula-centred scan).', 'OPT',
      [middleReport('oct-report', 'Generate a concise report with findings and impression for this retinal OCT B-scan.', 'stored-range')]),
    modalityProfile('endoscopy', 'Endoscopy images (ES).', 'ES',
      [middleReport('endoscopy-report', 'Generate a concise report with findings and impression for this endoscopy image.')]),
    modalityProfile('photograph', 'External-camera photographs (XC), e.g. of the skin.', 'XC',
      [middleReport('photograph-report', 'Describe the findings in this clinical photograph.')]),
    modalityProfile('microscopy', 'General microscopy fields (GM), e.g. H&E stained tissue.', 'GM',
      [middleReport('microscopy-report', 'Describe the histopathological findings in this microscopy image.')]),
  ],
};
