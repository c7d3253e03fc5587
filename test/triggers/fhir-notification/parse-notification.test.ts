import { describe, expect, it } from 'vitest';
import { NotificationInvalidError, ResourceTypeUnsupportedError } from '../../../src/shared/errors.ts';
import { parseNotification, type NotificationRoute } from '../../../src/triggers/fhir-notification/parse-notification.ts';
import {
  FHIR_BASE, FIXTURE_STUDY_UID, backportBundle, idOnlyEntry, imagingStudy, resourceEntry, subscriptionStatusBundle,
} from './fixtures.ts';

const notify: NotificationRoute = { kind: 'notify' };
const post = (body: unknown, headers: Record<string, string> = {}) => parseNotification(notify, { headers, body });

describe('parseNotification: R4 criteria subscription without payload', () => {
  it('treats an empty body as "something changed": no study, a search is needed', () => {
    const parsed = post(undefined);
    expect(parsed).toMatchObject({ style: 'empty', type: 'event-notification', studies: [], unresolved: true, deleted: false });
  });
});

describe('parseNotification: Medplum raw resource', () => {
  const headers = { 'x-medplum-subscription': 'sub-medplum-1', 'x-medplum-interaction': 'update' };

  it('takes id, version and Study Instance UID from a posted ImagingStudy', () => {
    const parsed = post(imagingStudy('is-1', '7'), headers);
    expect(parsed.style).toBe('raw-resource');
    expect(parsed.subscription).toBe('Subscription/sub-medplum-1');
    expect(parsed.studies).toEqual([{ imagingStudyId: 'is-1', versionId: '7', studyInstanceUid: FIXTURE_STUDY_UID }]);
    expect(parsed.unresolved).toBe(false);
  });

  it('keeps nothing else from the body (subject, accession number, series)', () => {
    const parsed = post(imagingStudy('is-1', '7'), headers);
    expect(Object.keys(parsed.studies[0]!).sort()).toEqual(['imagingStudyId', 'studyInstanceUid', 'versionId']);
  });

  it('acknowledges deletes ({} body, X-Medplum-Deleted-Resource) without a study', () => {
    const parsed = post({}, { ...headers, 'x-medplum-interaction': 'delete', 'x-medplum-deleted-resource': 'ImagingStudy/is-1' });
    expect(parsed).toMatchObject({ deleted: true, studies: [], subscription: 'Subscription/sub-medplum-1' });
  });

  it('refuses another resource type with 422', () => {
    expect(() => post({ resourceType: 'Patient', id: 'p1' }, headers)).toThrow(ResourceTypeUnsupportedError);
  });

  it('keeps a non-FHIR-looking resource type out of the error detail', () => {
    try {
      post({ resourceType: 'x<script>', id: 'p1' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ResourceTypeUnsupportedError);
      expect((error as ResourceTypeUnsupportedError).detail).toBeUndefined();
    }
  });

  it('refuses bodies that are not resources (400)', () => {
    expect(() => post([1, 2])).toThrow(NotificationInvalidError);
    expect(() => post({})).toThrow(NotificationInvalidError);
    expect(() => post('text')).toThrow(NotificationInvalidError);
    expect(() => post({ resourceType: 'ImagingStudy', id: 'bad id with spaces' })).toThrow(NotificationInvalidError);
  });
});

describe('parseNotification: HAPI PUT /fhir/notify/ImagingStudy/{id}', () => {
  const put = (id: string, body: unknown) => parseNotification({ kind: 'resource-update', imagingStudyId: id }, { headers: {}, body });

  it('uses the path id, with version and UID from the resource', () => {
    expect(put('is-9', imagingStudy('is-9', '3')).studies).toEqual([
      { imagingStudyId: 'is-9', versionId: '3', studyInstanceUid: FIXTURE_STUDY_UID },
    ]);
  });

  it('accepts a resource without id (the path id wins) and an empty body', () => {
    const { id: _id, ...withoutId } = imagingStudy('x');
    expect(put('is-9', withoutId).studies[0]!.imagingStudyId).toBe('is-9');
    expect(put('is-9', undefined).studies).toEqual([{ imagingStudyId: 'is-9' }]);
  });

  it('refuses a body whose id differs from the path (400)', () => {
    expect(() => put('is-9', imagingStudy('is-10'))).toThrow(NotificationInvalidError);
  });

  it('refuses another resource type (422)', () => {
    expect(() => put('is-9', { resourceType: 'DiagnosticReport', id: 'is-9' })).toThrow(ResourceTypeUnsupportedError);
  });

  it('treats DELETE as an acknowledged delete', () => {
    const parsed = parseNotification({ kind: 'resource-delete', imagingStudyId: 'is-9' }, { headers: {}, body: undefined });
    expect(parsed).toMatchObject({ deleted: true, studies: [] });
  });
});

describe('parseNotification: R4 backport history Bundle (Parameters status)', () => {
  it('reads an id-only notification: versioned absolute focus, subscription and event number', () => {
    const parsed = post(backportBundle({
      events: [{ eventNumber: 3, focus: `${FHIR_BASE}/ImagingStudy/is-1/_history/2` }],
      entries: [idOnlyEntry('ImagingStudy/is-1')],
    }));
    expect(parsed).toMatchObject({
      style: 'r4-backport', type: 'event-notification', subscription: 'Subscription/imaging-sub',
      eventsSinceSubscriptionStart: 3, eventNumbers: [3], unresolved: false,
    });
    expect(parsed.studies).toEqual([{ imagingStudyId: 'is-1', versionId: '2', eventNumber: 3 }]);
  });

  it('reads a full-resource notification: version and UID from the entry', () => {
    const parsed = post(backportBundle({
      events: [{ eventNumber: 4, focus: 'ImagingStudy/is-1' }],
      entries: [resourceEntry(imagingStudy('is-1', '5'))],
    }));
    expect(parsed.studies).toEqual([{ imagingStudyId: 'is-1', versionId: '5', studyInstanceUid: FIXTURE_STUDY_UID, eventNumber: 4 }]);
  });

  it('takes the id from an absolute focus whose base is not FHIR_URL', () => {
    const parsed = post(backportBundle({ events: [{ eventNumber: 1, focus: 'http://internal-hapi:8080/fhir/ImagingStudy/is-77' }] }));
    expect(parsed.studies.map((s) => s.imagingStudyId)).toEqual(['is-77']);
  });

  it('marks an empty-payload notification (event number, no focus) as needing a search', () => {
    const parsed = post(backportBundle({ events: [{ eventNumber: 6 }] }));
    expect(parsed).toMatchObject({ studies: [], eventNumbers: [6], unresolved: true });
  });

  it('skips and counts events about other resource types', () => {
    const parsed = post(backportBundle({
      events: [
        { eventNumber: 7, focus: 'Patient/pat-1' },
        { eventNumber: 8, focus: 'ImagingStudy/is-2' },
      ],
      entries: [idOnlyEntry('Patient/pat-1'), idOnlyEntry('ImagingStudy/is-2')],
    }));
    expect(parsed.studies.map((s) => s.imagingStudyId)).toEqual(['is-2']);
    expect(parsed.ignoredEntries).toBe(1);
    expect(parsed.eventNumbers).toEqual([7, 8]);
  });

  it('skips a focus whose entry is a DELETE', () => {
    const parsed = post(backportBundle({
      events: [{ eventNumber: 9, focus: 'ImagingStudy/is-3' }],
      entries: [idOnlyEntry('ImagingStudy/is-3', 'DELETE')],
    }));
    expect(parsed).toMatchObject({ studies: [], ignoredEntries: 1, unresolved: false });
  });

  it('reads a heartbeat and a handshake without studies', () => {
    expect(post(backportBundle({ type: 'heartbeat', eventsSince: 9 }))).toMatchObject({
      type: 'heartbeat', eventsSinceSubscriptionStart: 9, studies: [], unresolved: false,
    });
    expect(post(backportBundle({ type: 'handshake' }))).toMatchObject({ type: 'handshake', studies: [] });
  });

  it('refuses an unknown status type and a Bundle without a status', () => {
    expect(() => post(backportBundle({ type: 'banana' }))).toThrow(NotificationInvalidError);
    expect(() => post({ resourceType: 'Bundle', type: 'history', entry: [resourceEntry(imagingStudy('is-1'))] })).toThrow(NotificationInvalidError);
    expect(() => post({ resourceType: 'Bundle', type: 'transaction', entry: [] })).toThrow(NotificationInvalidError);
  });
});

describe('parseNotification: R4B / R5 Bundle (SubscriptionStatus)', () => {
  it('reads an R5 full-resource subscription-notification', () => {
    const parsed = post(subscriptionStatusBundle({
      events: [{ eventNumber: 12, focus: 'ImagingStudy/is-2' }],
      entries: [resourceEntry(imagingStudy('is-2', '5'))],
    }));
    expect(parsed).toMatchObject({ style: 'subscription-status', subscription: 'Subscription/r5-sub', eventsSinceSubscriptionStart: 12 });
    expect(parsed.studies).toEqual([{ imagingStudyId: 'is-2', versionId: '5', studyInstanceUid: FIXTURE_STUDY_UID, eventNumber: 12 }]);
  });

  it('reads an R4B history Bundle with id-only payload', () => {
    const parsed = post(subscriptionStatusBundle({
      bundleType: 'history',
      events: [{ eventNumber: 2, focus: `${FHIR_BASE}/ImagingStudy/is-5` }],
      entries: [idOnlyEntry('ImagingStudy/is-5')],
    }));
    expect(parsed.studies).toEqual([{ imagingStudyId: 'is-5', eventNumber: 2 }]);
  });

  it('accepts event numbers as JSON numbers too', () => {
    const bundle = subscriptionStatusBundle({ events: [{ eventNumber: 1, focus: 'ImagingStudy/is-2' }] });
    const status = (bundle.entry as Array<{ resource: Record<string, unknown> }>)[0]!.resource;
    status.eventsSinceSubscriptionStart = 1;
    (status.notificationEvent as Array<Record<string, unknown>>)[0]!.eventNumber = 1;
    expect(post(bundle)).toMatchObject({ eventsSinceSubscriptionStart: 1, eventNumbers: [1] });
  });

  it('uses payload entries when events carry no focus', () => {
    const parsed = post(subscriptionStatusBundle({
      events: [{ eventNumber: 20 }],
      entries: [resourceEntry(imagingStudy('is-6', '2'))],
    }));
    expect(parsed.studies).toEqual([{ imagingStudyId: 'is-6', versionId: '2', studyInstanceUid: FIXTURE_STUDY_UID, eventNumber: 20 }]);
    expect(parsed.unresolved).toBe(false);
  });

  it('marks an R5 empty payload as needing a search', () => {
    expect(post(subscriptionStatusBundle({ events: [{ eventNumber: 21 }] }))).toMatchObject({ studies: [], unresolved: true });
  });

  it('reads handshake, heartbeat, query-status without studies and query-event with them', () => {
    expect(post(subscriptionStatusBundle({ type: 'handshake' }))).toMatchObject({ type: 'handshake', studies: [] });
    expect(post(subscriptionStatusBundle({ type: 'heartbeat', eventsSince: 4 }))).toMatchObject({ type: 'heartbeat', eventsSinceSubscriptionStart: 4 });
    expect(post(subscriptionStatusBundle({ type: 'query-status', eventsSince: 4 }))).toMatchObject({ type: 'query-status', studies: [] });
    const queryEvent = post(subscriptionStatusBundle({ type: 'query-event', events: [{ eventNumber: 3, focus: 'ImagingStudy/is-8' }] }));
    expect(queryEvent.studies.map((s) => s.imagingStudyId)).toEqual(['is-8']);
  });

  it('prefers the Bundle subscription over the Medplum header', () => {
    const parsed = post(subscriptionStatusBundle({ type: 'heartbeat' }), { 'x-medplum-subscription': 'other' });
    expect(parsed.subscription).toBe('Subscription/r5-sub');
  });
});
