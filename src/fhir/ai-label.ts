import type { Coding } from '@medplum/fhirtypes';

/** HL7 AI Transparency on FHIR: "artificial intelligence asserted", on every resource the model made. */
export const AI_SECURITY_LABEL: Coding = Object.freeze({
  system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue',
  code: 'AIAST',
  display: 'Artificial Intelligence asserted',
});

/** True when the resource carries the AIAST security label. */
export function hasAiLabel(resource: { meta?: { security?: Coding[] } }): boolean {
  return (resource.meta?.security ?? []).some((c) => c.system === AI_SECURITY_LABEL.system && c.code === AI_SECURITY_LABEL.code);
}
