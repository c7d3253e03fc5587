// Every FHIR interaction the service makes, in one table: the default SMART scopes are derived from it and
// /readyz checks granted scopes against it. A test records what a run really sends and compares it with
// this table, so a new call without its scope fails there, not in a hospital.
export type FhirInteraction = 'create' | 'read' | 'update' | 'delete' | 'search';

export interface InteractionUse {
  interactions: readonly FhirInteraction[];
  /** Why the service needs it (one line, for operators granting scopes). */
  why: string;
}

export const SERVICE_INTERACTIONS = {
  ImagingStudy: { interactions: ['read', 'search'], why: 're-read a notified study; reconciliation searches by _lastUpdated' },
  Endpoint: { interactions: ['read'], why: 'the DICOMweb base a study names' },
  Task: { interactions: ['create', 'update', 'search'], why: 'one Task per run: conditional create, then update by id' },
  DiagnosticReport: { interactions: ['create', 'read', 'update', 'delete', 'search'], why: 'conditional update of the draft report; delete and history read undo a half-applied transaction' },
  Observation: { interactions: ['create', 'read', 'update', 'delete', 'search'], why: 'conditional update of measurements and findings; delete as above' },
  Media: { interactions: ['create', 'read', 'update', 'delete', 'search'], why: 'conditional update of key images; delete as above' },
  Provenance: { interactions: ['create', 'read', 'update', 'delete', 'search'], why: 'conditional update (by _tag) of the authorship record; delete as above' },
  Device: { interactions: ['create', 'search'], why: 'conditional create of the model Device' },
  // Medplum answers 403 to a write naming meta.profile unless the caller may read StructureDefinition.
  StructureDefinition: { interactions: ['read', 'search'], why: 'the server resolves the meta.profile of what we write with our rights' },
} as const satisfies Record<string, InteractionUse>;

/** What `fhir install-profiles` (or FHIR_INSTALL_PROFILES=true) needs on top. */
export const INSTALL_PROFILES_INTERACTIONS = {
  StructureDefinition: { interactions: ['create', 'search'], why: 'conditional create of our StructureDefinitions' },
} as const satisfies Record<string, InteractionUse>;

/** What AUDIT_SINK=fhir needs on top (README "Audit"): the batch of AuditEvent creates. */
export const AUDIT_INTERACTIONS = {
  AuditEvent: { interactions: ['create'], why: 'AuditEvents of every access to patient data, in batch Bundles' },
} as const satisfies Record<string, InteractionUse>;

/** Which optional tables apply: profile installation, audit delivery to the FHIR server. */
export interface InteractionOptions {
  installProfiles?: boolean;
  audit?: boolean;
}

/** Interactions that only happen when something went wrong (a test run on the happy path does not see them). */
export const RECOVERY_ONLY: ReadonlyArray<readonly [string, FhirInteraction]> = [
  ['DiagnosticReport', 'delete'], ['Observation', 'delete'], ['Media', 'delete'], ['Provenance', 'delete'],
  ['DiagnosticReport', 'read'], ['Observation', 'read'], ['Media', 'read'], ['Provenance', 'read'],
];

type Table = Readonly<Record<string, InteractionUse>>;

const SMART_ORDER: readonly FhirInteraction[] = ['create', 'read', 'update', 'delete', 'search'];
const SMART_LETTER: Record<FhirInteraction, string> = { create: 'c', read: 'r', update: 'u', delete: 'd', search: 's' };

/** Merges tables (union of interactions per type). */
export function requiredInteractions(options: InteractionOptions = {}): Map<string, Set<FhirInteraction>> {
  const tables: Table[] = [
    SERVICE_INTERACTIONS, ...(options.installProfiles ? [INSTALL_PROFILES_INTERACTIONS] : []), ...(options.audit ? [AUDIT_INTERACTIONS] : []),
  ];
  const merged = new Map<string, Set<FhirInteraction>>();
  for (const table of tables) {
    for (const [type, use] of Object.entries(table)) {
      const set = merged.get(type) ?? new Set<FhirInteraction>();
      for (const interaction of use.interactions) set.add(interaction);
      merged.set(type, set);
    }
  }
  return merged;
}

/** SMART v2 system scopes (`system/Task.cus`), one per resource type, letters in SMART's order. */
export function defaultSmartScopes(options: InteractionOptions = {}): string[] {
  return [...requiredInteractions(options)].map(([type, set]) =>
    `system/${type}.${SMART_ORDER.filter((i) => set.has(i)).map((i) => SMART_LETTER[i]).join('')}`);
}

/**
 * What granted scopes allow, per resource type. Reads SMART v2 (`system/Task.cus`, `system/*.rs`) and
 * v1 (`system/Task.read`, `.write`, `.*`) system scopes; other contexts (user/, patient/) do not apply
 * to a backend service.
 */
export function grantedInteractions(scopes: readonly string[]): (type: string, interaction: FhirInteraction) => boolean {
  const grants: Array<{ type: string; allowed: Set<FhirInteraction> }> = [];
  for (const scope of scopes) {
    const match = /^system\/([A-Za-z]+|\*)\.([a-z*]+)(\?.*)?$/.exec(scope.trim());
    if (!match) continue;
    const [, type, access] = match as unknown as [string, string, string];
    const allowed = new Set<FhirInteraction>();
    if (access === '*' || access === 'read') for (const i of ['read', 'search'] as const) allowed.add(i);
    if (access === '*' || access === 'write') for (const i of ['create', 'update', 'delete'] as const) allowed.add(i);
    if (/^c?r?u?d?s?$/.test(access)) for (const i of SMART_ORDER) if (access.includes(SMART_LETTER[i])) allowed.add(i);
    grants.push({ type, allowed });
  }
  return (type, interaction) => grants.some((g) => (g.type === '*' || g.type === type) && g.allowed.has(interaction));
}

/** The scopes (in SMART v2 form) that the granted ones lack for the required table; empty when nothing is missing. */
export function missingScopes(granted: readonly string[], options: InteractionOptions = {}): string[] {
  const allows = grantedInteractions(granted);
  const missing: string[] = [];
  for (const [type, set] of requiredInteractions(options)) {
    const lacking = SMART_ORDER.filter((i) => set.has(i) && !allows(type, i));
    if (lacking.length) missing.push(`system/${type}.${lacking.map((i) => SMART_LETTER[i]).join('')}`);
  }
  return missing;
}
