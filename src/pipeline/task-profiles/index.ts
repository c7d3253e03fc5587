export { DEFAULT_TASK_PROFILES } from './default-task-profiles.ts';
export { loadTaskProfiles } from './load-task-profiles.ts';
export { matchTasks, type SeriesAttributes, type TaskSpec } from './match-tasks.ts';
export { selectSlices } from './select-slices.ts';
export {
  taskProfilesSchema,
  type DecodeSettings, type GuidanceProfile, type ReportTask, type SegmentationStructure, type SegmentationTask,
  type SlicePolicy, type TaskDefinition, type TaskKind, type TaskProfile, type TaskProfiles, type TranslationTask, type Windowing, type PriorsOption,
} from './task-profile-schema.ts';
export { explainMismatch } from './explain-mismatch.ts';
export { checkProfileFile, createProfileTester, explainSeries } from './explain-profiles.ts';
