import type { ProfileMismatch } from '../../shared/profile-test.ts';
import type { SeriesAttributes } from './match-tasks.ts';
import type { TaskProfile } from './task-profile-schema.ts';

function normalize(value: string): string {
  return value.trim().toUpperCase();
}

/**
 * Why `profile` does not match `series`, one reason per failed rule (modality, body part, series
 * description), in the order matchTasks checks them; an empty list means it matches. Kept beside
 * matchTasks and tested against it, so the console never explains a rule the worker does not apply.
 */
export function explainMismatch(profile: TaskProfile, series: SeriesAttributes): ProfileMismatch[] {
  const rule = profile.match;
  const reasons: ProfileMismatch[] = [];
  if (!rule.modality.some((m) => normalize(m) === normalize(series.modality))) {
    reasons.push({ field: 'modality', message: `Modality ${series.modality || '(none)'} is not one of ${rule.modality.join(', ')}` });
  }
  if (rule.bodyPart) {
    const bodyPart = series.bodyPartExamined === undefined ? '' : normalize(series.bodyPartExamined);
    if (bodyPart === '') {
      if (!rule.allowMissingBodyPart) {
        reasons.push({ field: 'bodyPart', message: `BodyPartExamined is missing and the profile needs one of ${rule.bodyPart.join(', ')} (allowMissingBodyPart is false)` });
      }
    } else if (!rule.bodyPart.some((b) => normalize(b) === bodyPart)) {
      reasons.push({ field: 'bodyPart', message: `BodyPartExamined ${bodyPart} is not one of ${rule.bodyPart.join(', ')}` });
    }
  }
  if (rule.seriesDescription !== undefined && !new RegExp(rule.seriesDescription, 'i').test(series.seriesDescription ?? '')) {
    reasons.push({ field: 'seriesDescription', message: `SeriesDescription ${series.seriesDescription === undefined ? '(none)' : `"${series.seriesDescription}"`} does not match /${rule.seriesDescription}/i` });
  }
  return reasons;
}
