import type { TaskDefinition, TaskProfile, TaskProfiles } from './task-profile-schema.ts';

/** The series attributes profiles match on (DICOM Modality, BodyPartExamined, SeriesDescription). */
export interface SeriesAttributes {
  modality: string;
  bodyPartExamined?: string | undefined;
  seriesDescription?: string | undefined;
}

/** One task to run on one series, with the name of the profile that asked for it. */
export type TaskSpec = TaskDefinition & { profile: string };

function normalize(value: string): string {
  return value.trim().toUpperCase();
}

function fits(profile: TaskProfile, series: SeriesAttributes): boolean {
  const rule = profile.match;
  if (!rule.modality.some((m) => normalize(m) === normalize(series.modality))) return false;
  if (rule.bodyPart) {
    const bodyPart = series.bodyPartExamined === undefined ? '' : normalize(series.bodyPartExamined);
    if (bodyPart === '') {
      if (!rule.allowMissingBodyPart) return false;
    } else if (!rule.bodyPart.some((b) => normalize(b) === bodyPart)) {
      return false;
    }
  }
  if (rule.seriesDescription !== undefined && !new RegExp(rule.seriesDescription, 'i').test(series.seriesDescription ?? '')) {
    return false;
  }
  return true;
}

/**
 * The enabled tasks for a series: every profile whose match rule fits adds its enabled tasks, in
 * file order. No match gives an empty list (the series is skipped).
 */
export function matchTasks(profiles: TaskProfiles, series: SeriesAttributes): TaskSpec[] {
  const specs: TaskSpec[] = [];
  for (const profile of profiles.profiles) {
    if (!fits(profile, series)) continue;
    for (const task of profile.tasks) if (task.enabled) specs.push({ ...task, profile: profile.name });
  }
  return specs;
}
