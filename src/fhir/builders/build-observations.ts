import type { CodeableConcept, Observation } from '@medplum/fhirtypes';
import { AI_SECURITY_LABEL } from '../ai-label.ts';
import { PROFILE_URLS } from '../profile-urls.ts';
import type { CodeInput, DicomObjectInput, FindingInput, MeasurementInput } from './result-input.ts';
import { dicomUidIdentifier, resultIdentifier } from './result-identity.ts';

export const UCUM_SYSTEM = 'http://unitsofmeasure.org';
export const OBSERVATION_CATEGORY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/observation-category';

export interface ObservationContext {
  jobKey: string;
  imagingStudyId: string;
  subjectReference?: string;
  /** effective[x]: the study's time (see effectiveOf). */
  effective: string;
  encounterReference?: string;
  /** Orders (ServiceRequest, CarePlan) the study was made for. */
  basedOn?: string[];
  /** fullUrl (urn:uuid) of the model Device in the same Bundle. */
  deviceReference: string;
  dicomObjects?: DicomObjectInput[];
  recordedAt: string;
}

export function toCodeableConcept(code: CodeInput): CodeableConcept {
  return { coding: [{ system: code.system, code: code.code, ...(code.display ? { display: code.display } : {}) }], ...(code.display ? { text: code.display } : {}) };
}

/** Observation identity role: `observation:<key>` (the key defaults to the kind and position). */
export function observationRole(kind: 'measurement' | 'finding', index: number, key?: string): string {
  return `observation:${key ?? `${kind}-${index}`}`;
}

export function buildMeasurementObservation(context: ObservationContext, measurement: MeasurementInput, index: number): Observation {
  return {
    ...baseObservation(context, measurement.code, observationRole('measurement', index, measurement.key), measurement.bodySite, measurement.alsoCoded),
    valueQuantity: { value: measurement.value, unit: measurement.unit, system: UCUM_SYSTEM, code: measurement.unit },
  };
}

export function buildFindingObservation(context: ObservationContext, finding: FindingInput, index: number): Observation {
  const observation = baseObservation(context, finding.code, observationRole('finding', index, finding.key), finding.bodySite);
  if (finding.value) observation.valueCodeableConcept = toCodeableConcept(finding.value);
  else observation.valueString = finding.text ?? finding.code.display ?? finding.code.code;
  if (finding.value && finding.text) observation.note = [{ text: finding.text }];
  return observation;
}

function baseObservation(context: ObservationContext, code: CodeInput, role: string, bodySite?: CodeInput, alsoCoded: CodeInput[] = []): Observation {
  const concept = toCodeableConcept(code);
  concept.coding!.push(...alsoCoded.map((c) => ({ system: c.system, code: c.code, ...(c.display ? { display: c.display } : {}) })));
  return {
    resourceType: 'Observation',
    meta: { profile: [PROFILE_URLS.Observation], security: [AI_SECURITY_LABEL] },
    identifier: [resultIdentifier(context.jobKey, role)],
    ...(context.basedOn?.length ? { basedOn: context.basedOn.map((reference) => ({ reference })) } : {}),
    status: 'preliminary',
    category: [{ coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: 'imaging', display: 'Imaging' }] }],
    code: concept,
    ...(context.subjectReference ? { subject: { reference: context.subjectReference } } : {}),
    ...(context.encounterReference ? { encounter: { reference: context.encounterReference } } : {}),
    effectiveDateTime: context.effective,
    issued: context.recordedAt,
    device: { reference: context.deviceReference },
    derivedFrom: [{ reference: `ImagingStudy/${context.imagingStudyId}` }, ...dicomObjectReferences(context.dicomObjects)],
    ...(bodySite ? { bodySite: toCodeableConcept(bodySite) } : {}),
  };
}

/**
 * The stored DICOM objects as logical references (R4 has no ImagingSelection): the SOP Instance UID as
 * identifier, the kind as display.
 */
function dicomObjectReferences(objects: DicomObjectInput[] | undefined): NonNullable<Observation['derivedFrom']> {
  return (objects ?? []).map((object) => ({
    identifier: dicomUidIdentifier(object.sopInstanceUid),
    display: `DICOM ${object.kind} instance`,
  }));
}
