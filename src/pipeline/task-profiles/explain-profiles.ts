import { parse as parseYaml } from 'yaml';
import { firstNumber, firstString, Tag, type DicomJsonDataset } from '../../dicom/dicom-json.ts';
import type { ProfileFileCheck, ProfileTester, ProfileTestReport, SeriesVerdict } from '../../shared/profile-test.ts';
import { explainMismatch } from './explain-mismatch.ts';
import { selectSlices } from './select-slices.ts';
import { taskProfilesSchema, type TaskProfiles } from './task-profile-schema.ts';

function isDataset(value: unknown): value is DicomJsonDataset {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Instance datasets grouped by SeriesInstanceUID (input order kept); a single dataset counts as one instance. */
function groupSeries(metadata: unknown): DicomJsonDataset[][] {
  const list = Array.isArray(metadata) ? metadata : [metadata];
  const groups = new Map<string, DicomJsonDataset[]>();
  list.forEach((item, i) => {
    if (!isDataset(item)) throw new TypeError(`item ${i + 1} is not a DICOM JSON dataset`);
    const key = firstString(item, Tag.SeriesInstanceUID) ?? '(no SeriesInstanceUID)';
    groups.set(key, [...(groups.get(key) ?? []), item]);
  });
  return [...groups.values()];
}

function depthOf(instances: DicomJsonDataset[]): number {
  if (instances.length === 1) return Math.max(1, firstNumber(instances[0]!, Tag.NumberOfFrames) ?? 1);
  return instances.length;
}

/** What the worker would do with each series of `metadata` under `profiles`, and why profiles did not match. */
export function explainSeries(profiles: TaskProfiles, metadata: unknown, seriesModalities: readonly string[]): ProfileTestReport {
  const selected = new Set(seriesModalities.map((m) => m.toUpperCase()));
  const series = groupSeries(metadata).map((instances, i): SeriesVerdict => {
    const first = instances[0]!;
    const attributes = {
      modality: firstString(first, Tag.Modality) ?? '',
      bodyPartExamined: firstString(first, Tag.BodyPartExamined),
      seriesDescription: firstString(first, Tag.SeriesDescription),
    };
    const depth = depthOf(instances);
    return {
      index: i + 1,
      seriesNumber: firstNumber(first, Tag.SeriesNumber) ?? null,
      modality: attributes.modality,
      bodyPartExamined: attributes.bodyPartExamined ?? null,
      seriesDescription: attributes.seriesDescription ?? null,
      instances: instances.length,
      depth,
      selectedForAnalysis: selected.has(attributes.modality.toUpperCase()),
      profiles: profiles.profiles.map((profile) => {
        const reasons = explainMismatch(profile, attributes);
        const matched = reasons.length === 0;
        return {
          profile: profile.name,
          matched,
          reasons,
          tasks: matched ? profile.tasks.filter((t) => t.enabled).map((t) => ({ id: t.id, kind: t.kind, slices: selectSlices(depth, t.slices) })) : [],
          disabledTasks: matched ? profile.tasks.filter((t) => !t.enabled).map((t) => t.id) : [],
        };
      }),
    };
  });
  return { series };
}

/** A profile file checked with the start-up schema (the same parse as loadTaskProfiles). */
export function checkProfileFile(text: string): ProfileFileCheck {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: false });
  } catch (err) {
    return { valid: false, issues: [`not YAML or JSON: ${(err as Error).message.split('\n')[0]}`] };
  }
  const parsed = taskProfilesSchema.safeParse(raw);
  if (!parsed.success) {
    return { valid: false, issues: parsed.error.issues.slice(0, 20).map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`) };
  }
  return { valid: true, profiles: parsed.data.profiles.map((p) => p.name), tasks: parsed.data.profiles.reduce((n, p) => n + p.tasks.length, 0) };
}

/** The tester the console uses: the service's own profiles and series rule, and optionally its DICOMweb server. */
export function createProfileTester(options: {
  profiles: TaskProfiles;
  seriesModalities: readonly string[];
  fetchStudyMetadata?: (studyInstanceUid: string, signal?: AbortSignal) => Promise<DicomJsonDataset[]>;
}): ProfileTester {
  const fetch = options.fetchStudyMetadata;
  return {
    testMetadata: (metadata) => explainSeries(options.profiles, metadata, options.seriesModalities),
    ...(fetch ? { testStudy: async (uid: string, signal?: AbortSignal) => explainSeries(options.profiles, await fetch(uid, signal), options.seriesModalities) } : {}),
    validateProfileFile: checkProfileFile,
  };
}
