// Every resource we write is checked before anything is sent: against our profiles (cardinality,
// fixed/pattern values, FHIRPath invariants, via @medplum/core) and by our own rules that profiles
// cannot express well (status, AI label, codes, reference targets, attachment hashes).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { OperationOutcomeError, validateResource as validateWithMedplum } from '@medplum/core';
import type { Attachment, Bundle, OperationOutcomeIssue, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { FhirResourceInvalidError } from '../shared/errors.ts';
import { hasAiLabel } from './ai-label.ts';
import { indexBaseDefinitions } from './fhir-definitions.ts';
import { PROFILE_URLS } from './profile-urls.ts';

export const DEFAULT_PROFILES_DIR = new URL('../../fhir-profiles/', import.meta.url);

export interface ValidationIssue {
  /** FHIRPath-like location, e.g. `DiagnosticReport.status`; never a value. */
  path: string;
  /** `profile` for profile violations, else our rule name. */
  rule: 'profile' | 'status' | 'ai-label' | 'code' | 'reference' | 'attachment' | 'unknown-profile';
  /** For developers and tests; may quote values, so it is not put into errors or logs. */
  message: string;
}

export interface ResourceValidator {
  /** All issues of one resource; `bundleTypes` maps urn:uuid fullUrls of the same Bundle to resource types. */
  check(resource: Resource, bundleTypes?: ReadonlyMap<string, string>): ValidationIssue[];
  /** Throws FhirResourceInvalidError (detail: type and paths only) when the resource has issues. */
  assertValid(resource: Resource): void;
  /** Validates every entry of a transaction Bundle, resolving urn:uuid references between entries. */
  assertValidBundle(bundle: Bundle): void;
}

/** Reads the StructureDefinitions in `dir` (default: fhir-profiles/ of this package). */
export function loadProfiles(dir: URL | string = DEFAULT_PROFILES_DIR): Map<string, StructureDefinition> {
  const profiles = new Map<string, StructureDefinition>();
  const base = typeof dir === 'string' ? new URL(`file://${dir.endsWith('/') ? dir : `${dir}/`}`) : dir;
  for (const name of readdirSync(base)) {
    if (!name.startsWith('StructureDefinition-') || !name.endsWith('.json')) continue;
    const sd = JSON.parse(readFileSync(new URL(name, base), 'utf8')) as StructureDefinition;
    if (!sd.snapshot?.element?.length) throw new Error(`Profile ${name} has no snapshot`);
    profiles.set(sd.url!, sd);
  }
  return profiles;
}

export function createResourceValidator(profiles: Map<string, StructureDefinition> = loadProfiles()): ResourceValidator {
  indexBaseDefinitions();
  for (const url of Object.values(PROFILE_URLS)) {
    if (!profiles.has(url)) throw new Error(`Missing profile ${url}`);
  }

  function check(resource: Resource, bundleTypes: ReadonlyMap<string, string> = new Map()): ValidationIssue[] {
    const issues: ValidationIssue[] = [];
    const profileUrls = resource.meta?.profile ?? [];
    const ours = profileUrls.filter((url) => profiles.has(url));
    const expected = (PROFILE_URLS as Record<string, string>)[resource.resourceType];
    if (expected && !profileUrls.includes(expected)) {
      issues.push({ path: `${resource.resourceType}.meta.profile`, rule: 'unknown-profile', message: `missing ${expected}` });
    }
    const targets = ours.length ? ours.map((url) => profiles.get(url)!) : [undefined];
    for (const profile of targets) {
      for (const issue of medplumIssues(resource, profile)) {
        if (issue.severity !== 'error') continue;
        issues.push({ path: issue.expression?.[0] ?? resource.resourceType, rule: 'profile', message: issue.details?.text ?? issue.code });
      }
    }
    issues.push(...checkOwnRules(resource, (reference) => referenceType(reference, bundleTypes, resource)));
    return issues;
  }

  function fail(resource: Resource, issues: ValidationIssue[]): never {
    const paths = [...new Set(issues.map((i) => i.path))].slice(0, 10);
    throw new FhirResourceInvalidError({ detail: `${resource.resourceType}: ${paths.join(', ')}`, cause: { issues } });
  }

  return {
    check,
    assertValid(resource) {
      const issues = check(resource);
      if (issues.length) fail(resource, issues);
    },
    assertValidBundle(bundle) {
      const types = new Map<string, string>();
      for (const entry of bundle.entry ?? []) {
        if (entry.fullUrl && entry.resource) types.set(entry.fullUrl, entry.resource.resourceType);
      }
      for (const entry of bundle.entry ?? []) {
        if (!entry.resource) continue;
        const issues = check(entry.resource, types);
        if (issues.length) fail(entry.resource, issues);
      }
    },
  };
}

/** @medplum/core returns warnings but throws an OperationOutcomeError when there are errors: collect both. */
function medplumIssues(resource: Resource, profile: StructureDefinition | undefined): OperationOutcomeIssue[] {
  try {
    return validateWithMedplum(resource, profile ? { profile } : undefined);
  } catch (error) {
    if (error instanceof OperationOutcomeError) return error.outcome.issue ?? [];
    throw error;
  }
}

type TypeOf = (reference: string | undefined) => string | undefined;

/** The resource type a reference points at: from the Bundle for urn:uuid, from contained for `#id`, else from the URL. */
function referenceType(reference: string | undefined, bundleTypes: ReadonlyMap<string, string>, resource: Resource): string | undefined {
  if (!reference) return undefined;
  if (reference.startsWith('urn:uuid:')) return bundleTypes.get(reference);
  if (reference.startsWith('#')) return (resource as { contained?: Resource[] }).contained?.find((c) => c.id === reference.slice(1))?.resourceType;
  const parts = reference.split('?')[0]!.split('/').filter(Boolean);
  const historyAt = parts.indexOf('_history');
  const typed = historyAt > 0 ? parts.slice(0, historyAt) : parts;
  return typed.length >= 2 ? typed[typed.length - 2] : undefined;
}

function checkOwnRules(resource: Resource, typeOf: TypeOf): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const type = resource.resourceType;
  const expectRef = (path: string, reference: string | undefined, allowed: string[]): void => {
    const target = typeOf(reference);
    if (!target || !allowed.includes(target)) issues.push({ path, rule: 'reference', message: `must reference ${allowed.join(' or ')}` });
  };
  const hasCoding = (concepts: Array<{ coding?: Array<{ system?: string; code?: string }> }> | undefined, system: string, code?: string): boolean =>
    (concepts ?? []).some((c) => (c.coding ?? []).some((x) => x.system === system && (code === undefined || x.code === code)));

  if (type === 'DiagnosticReport' || type === 'Observation' || type === 'Media' || type === 'Task') {
    if (!hasAiLabel(resource)) issues.push({ path: `${type}.meta.security`, rule: 'ai-label', message: 'AIAST label missing' });
  }
  switch (resource.resourceType) {
    case 'DiagnosticReport': {
      if (resource.status !== 'preliminary') issues.push({ path: 'DiagnosticReport.status', rule: 'status', message: 'must be preliminary' });
      if (!hasCoding(resource.category, 'http://terminology.hl7.org/CodeSystem/v2-0074', 'RAD')) issues.push({ path: 'DiagnosticReport.category', rule: 'code', message: 'RAD category missing' });
      if (!hasCoding([resource.code], 'http://loinc.org')) issues.push({ path: 'DiagnosticReport.code', rule: 'code', message: 'LOINC code missing' });
      if (resource.subject) expectRef('DiagnosticReport.subject', resource.subject.reference, ['Patient', 'Group']);
      else issues.push({ path: 'DiagnosticReport.subject', rule: 'reference', message: 'US Core: subject required' });
      if (resource.encounter) expectRef('DiagnosticReport.encounter', resource.encounter.reference, ['Encounter']);
      (resource.basedOn ?? []).forEach((r, i) => expectRef(`DiagnosticReport.basedOn[${i}]`, r.reference, ['ServiceRequest', 'CarePlan']));
      (resource.performer ?? []).forEach((r, i) => {
        // A display-only performer names the organization without a resource to point at.
        if (r.reference) expectRef(`DiagnosticReport.performer[${i}]`, r.reference, ['Organization']);
      });
      (resource.imagingStudy ?? []).forEach((r, i) => expectRef(`DiagnosticReport.imagingStudy[${i}]`, r.reference, ['ImagingStudy']));
      (resource.result ?? []).forEach((r, i) => expectRef(`DiagnosticReport.result[${i}]`, r.reference, ['Observation']));
      (resource.media ?? []).forEach((m, i) => expectRef(`DiagnosticReport.media[${i}].link`, m.link.reference, ['Media']));
      (resource.presentedForm ?? []).forEach((a, i) => issues.push(...checkAttachment(a, `DiagnosticReport.presentedForm[${i}]`)));
      break;
    }
    case 'Observation': {
      if (resource.status !== 'preliminary') issues.push({ path: 'Observation.status', rule: 'status', message: 'must be preliminary' });
      if (!hasCoding(resource.category, 'http://terminology.hl7.org/CodeSystem/observation-category', 'imaging')) issues.push({ path: 'Observation.category', rule: 'code', message: 'imaging category missing' });
      if (!(resource.code.coding ?? []).some((c) => c.system && c.code)) issues.push({ path: 'Observation.code', rule: 'code', message: 'coded finding required' });
      const quantity = resource.valueQuantity;
      if (quantity && (quantity.system !== 'http://unitsofmeasure.org' || !quantity.code || typeof quantity.value !== 'number' || !Number.isFinite(quantity.value))) {
        issues.push({ path: 'Observation.valueQuantity', rule: 'code', message: 'UCUM quantity with a finite value required' });
      }
      expectRef('Observation.device', resource.device?.reference, ['Device']);
      if (resource.subject) expectRef('Observation.subject', resource.subject.reference, ['Patient', 'Group']);
      else issues.push({ path: 'Observation.subject', rule: 'reference', message: 'US Core: subject required' });
      if (resource.encounter) expectRef('Observation.encounter', resource.encounter.reference, ['Encounter']);
      (resource.basedOn ?? []).forEach((r, i) => expectRef(`Observation.basedOn[${i}]`, r.reference, ['ServiceRequest', 'CarePlan']));
      if (!(resource.derivedFrom ?? []).some((r) => typeOf(r.reference) === 'ImagingStudy')) issues.push({ path: 'Observation.derivedFrom', rule: 'reference', message: 'must include the ImagingStudy' });
      break;
    }
    case 'Media':
      expectRef('Media.device', resource.device?.reference, ['Device']);
      break;
    case 'Provenance': {
      // Task: an answer written as the output of the EHR's asking Task (questions).
      (resource.target ?? []).forEach((r, i) => expectRef(`Provenance.target[${i}]`, r.reference, ['DiagnosticReport', 'Observation', 'Media', 'Task']));
      (resource.agent ?? []).forEach((a, i) => expectRef(`Provenance.agent[${i}].who`, a.who.reference, ['Device']));
      const entityTypes = (resource.entity ?? []).map((e) => typeOf(e.what.reference));
      if (!entityTypes.includes('ImagingStudy')) issues.push({ path: 'Provenance.entity', rule: 'reference', message: 'must include the ImagingStudy' });
      break;
    }
    case 'Task': {
      (resource.focus ? [resource.focus] : []).forEach((r) => expectRef('Task.focus', r.reference, ['ImagingStudy']));
      if (resource.for) expectRef('Task.for', resource.for.reference, ['Patient', 'Group']);
      (resource.output ?? []).forEach((o, i) => expectRef(`Task.output[${i}].valueReference`, o.valueReference?.reference, ['DiagnosticReport']));
      break;
    }
    default:
      break;
  }
  return issues;
}

function checkAttachment(attachment: Attachment, path: string): ValidationIssue[] {
  if (!attachment.data) return [];
  const bytes = Buffer.from(attachment.data, 'base64');
  const issues: ValidationIssue[] = [];
  if (attachment.size !== bytes.length) issues.push({ path: `${path}.size`, rule: 'attachment', message: 'size does not match data' });
  if (attachment.hash !== createHash('sha1').update(bytes).digest('base64')) issues.push({ path: `${path}.hash`, rule: 'attachment', message: 'hash is not the SHA-1 of data' });
  return issues;
}
