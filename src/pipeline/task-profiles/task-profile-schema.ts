import { z } from 'zod';

// The task profiles file: which UniMedVL tasks run for which series. Every field is documented in
// README.md "Task profiles"; the built-in defaults live in default-task-profiles.ts (and .yaml).

const byte = z.number().int().min(0).max(255);

/** A coded concept as DICOM writes it (same shape as the SEG writer's CodedConcept). */
const codedConcept = z
  .object({
    value: z.string().min(1).max(64),
    scheme: z.string().min(1).max(16).default('SCT'),
    meaning: z.string().min(1).max(64),
  })
  .strict();

const slicePolicySchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('middle') }).strict(),
  z.object({ mode: z.literal('evenly-spaced'), count: z.number().int().min(1).max(1000) }).strict(),
  z.object({ mode: z.literal('all'), max: z.number().int().min(1).max(10_000) }).strict(),
]);

const decodeSchema = z
  .object({
    maxNewTokens: z.number().int().min(1).max(8192).default(512),
    /** 0: greedy (the model's default); > 0: sampling temperature. */
    temperature: z.number().min(0).max(5).default(0),
  })
  .strict();

/** Classifier-free guidance of the flow sampler; defaults are UniMedVL's image-editing defaults. */
const guidanceSchema = z
  .object({
    textScale: z.number().min(0).max(20).default(4),
    imageScale: z.number().min(0).max(20).default(2),
    interval: z
      .tuple([z.number().min(0).max(1), z.number().min(0).max(1)])
      .refine(([lo, hi]) => lo <= hi, { message: 'interval must be [lower, upper] with lower <= upper' })
      .default([0, 1]),
    renorm: z.enum(['global', 'text_channel']).default('text_channel'),
    steps: z.number().int().min(2).max(200).default(50),
  })
  .strict();

/**
 * The official generator's understanding pass before an edit (interactive_image_generator.py, its
 * default "understanding mode"): the model first answers the prompt about the slice, and the edit
 * instruction becomes prompt + blank line + that answer. Default on, with the generator's limit of 800
 * decoder calls; costs up to that many decode steps per generated slice (src/model/analyze-first.ts).
 */
const analyzeFirstSchema = z
  .object({
    enabled: z.boolean().default(true),
    maxNewTokens: z.number().int().min(1).max(8192).default(800),
  })
  .strict();

const structureSchema = z
  .object({
    label: z.string().min(1).max(64),
    /** SNOMED CT segmented property category (CID 7150), e.g. 123037004 "Anatomical Structure". */
    category: codedConcept,
    /** SNOMED CT segmented property type (CID 7151), e.g. 39607008 "Lung". */
    type: codedConcept,
    /** Display colour [r, g, b], 0..255 (SEG RecommendedDisplayCIELabValue and the PNG overlay). */
    colour: z.tuple([byte, byte, byte]),
  })
  .strict();

const taskId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, { message: 'task ids are lower-case letters, digits and dashes' });

/**
 * How grey source values become the 8-bit image the model sees (colour images are always taken as stored):
 * - auto: the source's VOI window, else the CT soft-tissue preset (CT), else a 0.5-99.5 percentile stretch;
 * - stored-range: linear over the stored bit range (8-bit display-ready images: US, OCT), no stretch;
 * - percentile: a 0.5-99.5 percentile stretch even where the source has a window.
 */
const windowingSchema = z.enum(['auto', 'stored-range', 'percentile']);

const taskBase = {
  id: taskId,
  enabled: z.boolean().default(true),
  prompt: z.string().min(1).max(4000),
  slices: slicePolicySchema.default({ mode: 'middle' }),
  windowing: windowingSchema.default('auto'),
};

/**
 * Comparison with a prior: key images of the patient's most recent earlier study (QIDO-RS by PatientID) go
 * before the current images, and the prompt says so (hence the Provenance). Absent: off.
 */
const priorsSchema = z
  .object({
    /** Key images taken from the prior study's matching series (evenly spaced). */
    count: z.number().int().min(1).max(8).default(1),
    /** Only studies that hold the series' modality count as priors. */
    sameModality: z.boolean().default(true),
  })
  .strict();

const reportTaskSchema = z
  .object({ ...taskBase, kind: z.literal('report'), decode: decodeSchema.prefault({}), priors: priorsSchema.optional() })
  .strict();

const segmentationTaskSchema = z
  .object({
    ...taskBase,
    kind: z.literal('segmentation'),
    guidance: guidanceSchema.prefault({}),
    analyzeFirst: analyzeFirstSchema.prefault({}),
    structure: structureSchema,
    /** Brightness of the generated image (0..1 of the 8-bit range) at or above which a pixel is inside. */
    threshold: z.number().gt(0).max(1).default(0.5),
  })
  .strict();

const translationTaskSchema = z
  .object({
    ...taskBase,
    kind: z.literal('translation'),
    guidance: guidanceSchema.prefault({}),
    analyzeFirst: analyzeFirstSchema.prefault({}),
    /** What the derived series shows, e.g. "Synthetic FLAIR" (goes into its series description). */
    outputLabel: z.string().min(1).max(48),
    /** Output size as a multiple of the source's (4: the paper's 4x super-resolution), refused above MODEL_MAX_OUTPUT_SIDE. */
    outputScale: z.number().int().min(1).max(4).default(1),
  })
  .strict();

const taskSchema = z.discriminatedUnion('kind', [reportTaskSchema, segmentationTaskSchema, translationTaskSchema]);

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern, 'i');
    return true;
  } catch {
    return false;
  }
}

const matchSchema = z
  .object({
    /** DICOM Modality values, compared case-insensitively. */
    modality: z.array(z.string().min(1).max(16)).min(1),
    /** BodyPartExamined values, compared case-insensitively; absent: any body part. */
    bodyPart: z.array(z.string().min(1).max(64)).min(1).optional(),
    /** With `bodyPart`: whether a series without BodyPartExamined still matches. */
    allowMissingBodyPart: z.boolean().default(false),
    /** JavaScript regular expression tested case-insensitively against SeriesDescription ('' when absent). */
    seriesDescription: z.string().min(1).max(500).refine(compiles, { message: 'not a valid regular expression' }).optional(),
  })
  .strict();

const profileSchema = z
  .object({
    name: z.string().min(1).max(64),
    description: z.string().max(500).optional(),
    match: matchSchema,
    tasks: z.array(taskSchema).min(1),
  })
  .strict();

export const taskProfilesSchema = z
  .object({
    version: z.literal(1),
    profiles: z.array(profileSchema),
  })
  .strict()
  .superRefine((file, ctx) => {
    const names = new Set<string>();
    const ids = new Set<string>();
    file.profiles.forEach((profile, p) => {
      if (names.has(profile.name)) ctx.addIssue({ code: 'custom', path: ['profiles', p, 'name'], message: 'duplicate profile name' });
      names.add(profile.name);
      profile.tasks.forEach((task, t) => {
        // Task ids name results (job keys, series descriptions): they must be unique in the whole file.
        if (ids.has(task.id)) ctx.addIssue({ code: 'custom', path: ['profiles', p, 'tasks', t, 'id'], message: 'duplicate task id' });
        ids.add(task.id);
      });
    });
  });

export type TaskProfiles = z.output<typeof taskProfilesSchema>;
export type TaskProfile = TaskProfiles['profiles'][number];
export type TaskDefinition = TaskProfile['tasks'][number];
export type TaskKind = TaskDefinition['kind'];
export type SlicePolicy = z.output<typeof slicePolicySchema>;
export type Windowing = z.output<typeof windowingSchema>;
export type PriorsOption = z.output<typeof priorsSchema>;
export type DecodeSettings = z.output<typeof decodeSchema>;
export type GuidanceProfile = z.output<typeof guidanceSchema>;
export type AnalyzeFirstSettings = z.output<typeof analyzeFirstSchema>;
export type SegmentationStructure = z.output<typeof structureSchema>;
export type ReportTask = Extract<TaskDefinition, { kind: 'report' }>;
export type SegmentationTask = Extract<TaskDefinition, { kind: 'segmentation' }>;
export type TranslationTask = Extract<TaskDefinition, { kind: 'translation' }>;
