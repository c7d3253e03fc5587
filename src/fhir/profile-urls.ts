// Canonical URLs of our StructureDefinitions (fhir-profiles/); every resource we write names its profile.
// They are http(s) canonicals under one base (FHIR R4 resource.html#canonical): a FHIR server can resolve
// them once `unimedvl-plugin fhir install-profiles` has stored the StructureDefinitions there.
import type { Bundle, Resource, StructureDefinition } from '@medplum/fhirtypes';

/** The project's canonical base: the profile files and local validation use it. */
export const DEFAULT_PROFILE_BASE = 'https://unimedvl-plugin.github.io/fhir';

/** StructureDefinition ids (also the last path segment of each canonical URL). */
export const PROFILE_IDS = {
  DiagnosticReport: 'ai-diagnostic-report',
  Observation: 'ai-observation',
  Media: 'ai-key-image',
  Device: 'ai-model-device',
  Provenance: 'ai-provenance',
  Task: 'ai-analysis-task',
} as const;

export type ProfiledResourceType = keyof typeof PROFILE_IDS;

export function profileUrlsFor(base: string): Record<ProfiledResourceType, string> {
  const root = base.replace(/\/+$/, '');
  return Object.fromEntries(
    Object.entries(PROFILE_IDS).map(([type, id]) => [type, `${root}/StructureDefinition/${id}`]),
  ) as Record<ProfiledResourceType, string>;
}

export const PROFILE_URLS: Readonly<Record<ProfiledResourceType, string>> = Object.freeze(profileUrlsFor(DEFAULT_PROFILE_BASE));

const DEFAULT_ROOT = `${DEFAULT_PROFILE_BASE}/`;

/** One of our default-base URLs moved under `base`; any other URL unchanged. */
export function rebaseProfileUrl(url: string, base: string): string {
  return url.startsWith(DEFAULT_ROOT) ? `${base.replace(/\/+$/, '')}/${url.slice(DEFAULT_ROOT.length)}` : url;
}

/**
 * The resource as written under a deployment's FHIR_PROFILE_BASE: builders and the local validator use
 * the default base; only what goes on the wire carries the configured one. Copies; never mutates.
 */
export function rebaseProfiles<T extends Resource>(resource: T, base: string): T {
  if (base.replace(/\/+$/, '') === DEFAULT_PROFILE_BASE) return resource;
  let out: T = resource;
  if (resource.meta?.profile?.length) {
    out = { ...out, meta: { ...resource.meta, profile: resource.meta.profile.map((url) => rebaseProfileUrl(url, base)) } };
  }
  if (out.resourceType === 'StructureDefinition' && (out as StructureDefinition).url) {
    out = { ...out, url: rebaseProfileUrl((out as StructureDefinition).url!, base) } as T;
  }
  if (out.resourceType === 'Bundle') {
    const bundle = out as Bundle;
    out = { ...bundle, entry: bundle.entry?.map((e) => (e.resource ? { ...e, resource: rebaseProfiles(e.resource, base) } : e)) } as T;
  }
  return out;
}
