// Parses FHIR references as notification senders write them: relative (`ImagingStudy/123`), with a
// version (`ImagingStudy/123/_history/4`) or absolute (`https://host/fhir/ImagingStudy/123`). An absolute
// reference whose base is not FHIR_URL still yields its id: senders often know themselves by another
// name (internal host, proxy), and the worker only ever reads the id back from FHIR_URL.

export interface ResourceReference {
  resourceType: string;
  id: string;
  versionId?: string;
  /** The part before `<type>/<id>` of an absolute reference, without a trailing slash. */
  base?: string;
}

const FHIR_ID = '[A-Za-z0-9\\-.]{1,64}';
const REFERENCE = new RegExp(`^(?:(.*)/)?([A-Z][A-Za-z]{0,63})/(${FHIR_ID})(?:/_history/(${FHIR_ID}))?/?$`);

export function isFhirId(value: unknown): value is string {
  return typeof value === 'string' && new RegExp(`^${FHIR_ID}$`).test(value);
}

export function parseResourceReference(reference: unknown): ResourceReference | undefined {
  if (typeof reference !== 'string' || reference.length > 2048) return undefined;
  const match = REFERENCE.exec(reference.split(/[?#]/, 1)[0]!);
  if (!match) return undefined;
  const [, base, resourceType, id, versionId] = match;
  return {
    resourceType: resourceType!,
    id: id!,
    ...(versionId ? { versionId } : {}),
    ...(base ? { base } : {}),
  };
}

/** `Subscription/<id>` from a reference, a full URL or a bare id (Medplum's header); undefined if unusable. */
export function normalizeSubscription(value: unknown): string | undefined {
  if (isFhirId(value)) return `Subscription/${value}`;
  const reference = parseResourceReference(value);
  return reference?.resourceType === 'Subscription' ? `Subscription/${reference.id}` : undefined;
}
