// All of one job's FHIR results as ONE transaction Bundle: urn:uuid fullUrls, conditional creates keyed by
// the job key (the Device by model name + version), so posting it twice writes everything once.
import type { Bundle, BundleEntry, Device, DiagnosticReport, Media, Observation, Patient, Provenance, Resource } from '@medplum/fhirtypes';
import { buildDiagnosticReport, carriedOrders, effectiveOf, REPORT_ROLE } from './build-diagnostic-report.ts';
import { buildModelDevice } from './build-device.ts';
import { buildKeyImageMedia, keyImageRole } from './build-key-image-media.ts';
import { buildFindingObservation, buildMeasurementObservation, observationRole } from './build-observations.ts';
import { buildProvenance } from './build-provenance.ts';
import type { AiResultInput } from './result-input.ts';
import { fullUrlFor, identifierQuery, JOB_IDENTIFIER_SYSTEM, modelIdentifierValue } from './result-identity.ts';

/** Patient ID as the DICOM files give it (no issuer known in local mode). */
export const DICOM_PATIENT_ID_SYSTEM = 'urn:unimedvl-plugin:dicom-patient-id';

export interface AiResultResources {
  report: DiagnosticReport;
  observations: Observation[];
  media: Media[];
  device: Device;
  provenance: Provenance;
}

export interface AiResultBundle {
  bundle: Bundle;
  resources: AiResultResources;
  /** fullUrl of the DiagnosticReport entry (to find its location in the transaction-response). */
  reportFullUrl: string;
}

export function buildAiResultBundle(given: AiResultInput): AiResultBundle {
  const patient = given.localPatient && !given.imagingStudy.subjectReference ? localPatientEntry(given) : undefined;
  const input: AiResultInput = patient ? { ...given, imagingStudy: { ...given.imagingStudy, subjectReference: patient.fullUrl! } } : given;
  const deviceFullUrl = `urn:uuid:${uuidForModel(input)}`;
  const context = {
    jobKey: input.jobKey,
    imagingStudyId: input.imagingStudy.id,
    ...(input.imagingStudy.subjectReference ? { subjectReference: input.imagingStudy.subjectReference } : {}),
    effective: effectiveOf(input),
    ...(input.imagingStudy.encounterReference ? { encounterReference: input.imagingStudy.encounterReference } : {}),
    basedOn: carriedOrders(input.imagingStudy.basedOn),
    deviceReference: deviceFullUrl,
    ...(input.dicomObjects ? { dicomObjects: input.dicomObjects } : {}),
    recordedAt: input.recordedAt,
  };

  const device = buildModelDevice(input.model);
  const observationEntries = [
    ...(input.measurements ?? []).map((m, i) => ({ role: observationRole('measurement', i, m.key), resource: buildMeasurementObservation(context, m, i) })),
    ...(input.findings ?? []).map((f, i) => ({ role: observationRole('finding', i, f.key), resource: buildFindingObservation(context, f, i) })),
  ];
  const mediaEntries = (input.keyImages ?? []).map((image, i) => ({ role: keyImageRole(i, image.key), resource: buildKeyImageMedia(context, image, i) }));
  const roles = [...observationEntries, ...mediaEntries].map((e) => e.role);
  if (new Set(roles).size !== roles.length) throw new TypeError('Result keys must be unique within a job');

  const urlOf = (role: string) => fullUrlFor(input.jobKey, role);
  const report = buildDiagnosticReport(input, {
    resultReferences: observationEntries.map((e) => urlOf(e.role)),
    mediaReferences: mediaEntries.map((e) => urlOf(e.role)),
  });
  const reportFullUrl = urlOf(REPORT_ROLE);
  const provenance = buildProvenance({
    jobKey: input.jobKey,
    imagingStudyId: input.imagingStudy.id,
    deviceReference: deviceFullUrl,
    targetReferences: [reportFullUrl, ...observationEntries.map((e) => urlOf(e.role)), ...mediaEntries.map((e) => urlOf(e.role))],
    prompt: input.prompt,
    ...(input.analysis ? { analysis: input.analysis } : {}),
    recordedAt: input.recordedAt,
  });

  const entries: BundleEntry[] = [
    ...(patient ? [patient] : []),
    conditionalCreate(deviceFullUrl, device, identifierQuery(device.identifier![0]!)),
    ...mediaEntries.map((e) => conditionalUpdate(urlOf(e.role), e.resource, identifierQuery(e.resource.identifier![0]!))),
    ...observationEntries.map((e) => conditionalUpdate(urlOf(e.role), e.resource, identifierQuery(e.resource.identifier![0]!))),
    conditionalUpdate(reportFullUrl, report, identifierQuery(report.identifier![0]!)),
    conditionalUpdate(urlOf('provenance'), provenance, `_tag=${encodeURIComponent(`${JOB_IDENTIFIER_SYSTEM}|${input.jobKey}`)}`),
  ];
  return {
    bundle: { resourceType: 'Bundle', type: 'transaction', entry: entries },
    resources: { report, observations: observationEntries.map((e) => e.resource), media: mediaEntries.map((e) => e.resource), device, provenance },
    reportFullUrl,
  };
}

/** A Patient known only by the DICOM Patient ID (local mode), created once per ID. */
function localPatientEntry(input: AiResultInput): BundleEntry {
  const patientId = input.localPatient?.patientId?.trim();
  const resource: Patient = { resourceType: 'Patient', ...(patientId ? { identifier: [{ system: DICOM_PATIENT_ID_SYSTEM, value: patientId }] } : {}) };
  const fullUrl = fullUrlFor(input.jobKey, 'patient');
  return patientId ? conditionalCreate(fullUrl, resource, identifierQuery(resource.identifier![0]!)) : { fullUrl, resource, request: { method: 'POST', url: 'Patient' } };
}

function conditionalCreate(fullUrl: string, resource: Resource, ifNoneExist: string): BundleEntry {
  return { fullUrl, resource, request: { method: 'POST', url: resource.resourceType, ifNoneExist } };
}

/**
 * Results are updated in place, keyed by the job key: a retry rewrites the same resource, and a run
 * after the study changed (new series, say) replaces the earlier draft instead of leaving it stale.
 */
function conditionalUpdate(fullUrl: string, resource: Resource, query: string): BundleEntry {
  return { fullUrl, resource, request: { method: 'PUT', url: `${resource.resourceType}?${query}` } };
}

function uuidForModel(input: AiResultInput): string {
  // Keyed by the model, not the job: every job's Bundle names the same Device.
  return fullUrlFor(modelIdentifierValue(input.model), 'device').slice('urn:uuid:'.length);
}
