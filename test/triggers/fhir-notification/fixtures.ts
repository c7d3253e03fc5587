// Realistic notification payloads for each sender style. The patient name and Study Instance UID are
// fixture "patient data": tests assert that they never reach logs or responses.

export const FHIR_BASE = 'https://fhir.example.org/fhir';
export const FIXTURE_PATIENT_NAME = 'Fixture-Patient Ana Souza';
export const FIXTURE_STUDY_UID = '1.2.826.0.1.3680043.8.498.10293847561';
const TOPIC = 'https://unimedvl.example.org/SubscriptionTopic/imaging-study-changed';

export function imagingStudy(id: string, versionId = '1', studyUid = FIXTURE_STUDY_UID): Record<string, unknown> {
  return {
    resourceType: 'ImagingStudy',
    id,
    meta: { versionId, lastUpdated: '2026-03-02T10:15:00.000Z' },
    identifier: [
      { system: 'urn:dicom:uid', value: `urn:oid:${studyUid}` },
      { use: 'usual', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] }, value: 'ACC-778812' },
    ],
    status: 'available',
    subject: { reference: 'Patient/pat-1', display: FIXTURE_PATIENT_NAME },
    started: '2026-03-02T10:00:00Z',
    endpoint: [{ reference: 'Endpoint/pacs-1' }],
    numberOfSeries: 1,
    numberOfInstances: 3,
    series: [
      {
        uid: `${studyUid}.1`,
        number: 1,
        modality: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CT' },
        numberOfInstances: 3,
      },
    ],
  };
}

/** R4 Subscriptions Backport: `history` Bundle, entry 0 a Parameters status. */
export function backportBundle(options: {
  type?: string;
  eventsSince?: number;
  events?: Array<{ eventNumber: number; focus?: string }>;
  entries?: Array<Record<string, unknown>>;
  subscription?: string;
}): Record<string, unknown> {
  const events = options.events ?? [];
  const parameter: Array<Record<string, unknown>> = [
    { name: 'subscription', valueReference: { reference: options.subscription ?? `${FHIR_BASE}/Subscription/imaging-sub` } },
    { name: 'topic', valueCanonical: TOPIC },
    { name: 'status', valueCode: 'active' },
    { name: 'type', valueCode: options.type ?? 'event-notification' },
    { name: 'events-since-subscription-start', valueString: String(options.eventsSince ?? events.at(-1)?.eventNumber ?? 0) },
    ...events.map((e) => ({
      name: 'notification-event',
      part: [
        { name: 'event-number', valueString: String(e.eventNumber) },
        { name: 'timestamp', valueInstant: '2026-03-02T10:15:01.000Z' },
        ...(e.focus ? [{ name: 'focus', valueReference: { reference: e.focus } }] : []),
      ],
    })),
  ];
  return {
    resourceType: 'Bundle',
    id: 'notification-1',
    type: 'history',
    timestamp: '2026-03-02T10:15:01.000Z',
    entry: [
      {
        fullUrl: 'urn:uuid:2b4f1d70-3c5e-4d8a-9f0b-6a7c8d9e0f11',
        resource: { resourceType: 'Parameters', id: 'status-1', parameter },
        request: { method: 'GET', url: `${FHIR_BASE}/Subscription/imaging-sub/$status` },
        response: { status: '200' },
      },
      ...(options.entries ?? []),
    ],
  };
}

/** R4B (`history`) or R5 (`subscription-notification`) Bundle, entry 0 a SubscriptionStatus. */
export function subscriptionStatusBundle(options: {
  bundleType?: 'history' | 'subscription-notification';
  type?: string;
  eventsSince?: number;
  events?: Array<{ eventNumber: number; focus?: string }>;
  entries?: Array<Record<string, unknown>>;
  subscription?: string;
}): Record<string, unknown> {
  const events = options.events ?? [];
  return {
    resourceType: 'Bundle',
    id: 'notification-2',
    type: options.bundleType ?? 'subscription-notification',
    timestamp: '2026-03-02T10:15:01.000Z',
    entry: [
      {
        fullUrl: 'urn:uuid:9d0e8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b',
        resource: {
          resourceType: 'SubscriptionStatus',
          status: options.type === 'handshake' ? 'requested' : 'active',
          type: options.type ?? 'event-notification',
          eventsSinceSubscriptionStart: String(options.eventsSince ?? events.at(-1)?.eventNumber ?? 0),
          notificationEvent: events.map((e) => ({
            eventNumber: String(e.eventNumber),
            timestamp: '2026-03-02T10:15:01.000Z',
            ...(e.focus ? { focus: { reference: e.focus } } : {}),
          })),
          subscription: { reference: options.subscription ?? 'Subscription/r5-sub' },
          topic: TOPIC,
        },
      },
      ...(options.entries ?? []),
    ],
  };
}

/** A full-resource entry. */
export function resourceEntry(resource: Record<string, unknown>, method = 'PUT'): Record<string, unknown> {
  const path = `${String(resource.resourceType)}/${String(resource.id)}`;
  return { fullUrl: `${FHIR_BASE}/${path}`, resource, request: { method, url: path }, response: { status: '200' } };
}

/** An id-only entry (no resource). */
export function idOnlyEntry(path: string, method = 'PUT'): Record<string, unknown> {
  return { fullUrl: `${FHIR_BASE}/${path}`, request: { method, url: path }, response: { status: '200' } };
}
