/** Canonical URLs of our StructureDefinitions (fhir-profiles/); every resource we write names its profile. */
export const PROFILE_URLS = {
  DiagnosticReport: 'urn:unimedvl-plugin:fhir:StructureDefinition:ai-diagnostic-report',
  Observation: 'urn:unimedvl-plugin:fhir:StructureDefinition:ai-observation',
  Media: 'urn:unimedvl-plugin:fhir:StructureDefinition:ai-key-image',
  Device: 'urn:unimedvl-plugin:fhir:StructureDefinition:ai-model-device',
  Provenance: 'urn:unimedvl-plugin:fhir:StructureDefinition:ai-provenance',
  Task: 'urn:unimedvl-plugin:fhir:StructureDefinition:ai-analysis-task',
} as const;

export type ProfiledResourceType = keyof typeof PROFILE_URLS;
