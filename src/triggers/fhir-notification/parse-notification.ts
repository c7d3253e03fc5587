import { NotificationInvalidError, ResourceTypeUnsupportedError } from '../../shared/errors.ts';
import { studyEventFromImagingStudy } from './imaging-study-event.ts';
import { asRecord } from './json-record.ts';
import type { NotificationInput, ParsedNotification, StudyEvent } from './notification.ts';
import { parseNotificationBundle } from './parse-notification-bundle.ts';
import { normalizeSubscription } from './resource-reference.ts';

/** Which endpoint received the notification. */
export type NotificationRoute =
  /** POST /fhir/notify: empty body, a raw resource (Medplum) or a notification Bundle. */
  | { kind: 'notify' }
  /** PUT /fhir/notify/ImagingStudy/{id} (HAPI with payload): the id in the path wins. */
  | { kind: 'resource-update'; imagingStudyId: string }
  /** DELETE /fhir/notify/ImagingStudy/{id} (HAPI): acknowledged, nothing to analyze. */
  | { kind: 'resource-delete'; imagingStudyId: string };

/**
 * Turns any supported notification into ids. Pure: no I/O, no de-duplication (see applyNotification).
 * Throws NotificationInvalidError (400) for bodies that are no notification and
 * ResourceTypeUnsupportedError (422) for a raw resource that is not an ImagingStudy.
 */
export function parseNotification(route: NotificationRoute, input: NotificationInput): ParsedNotification {
  switch (route.kind) {
    case 'notify':
      return parsePostedNotification(input);
    case 'resource-update':
      return parseResourceUpdate(route.imagingStudyId, input.body);
    case 'resource-delete':
      return { ...emptyResult('resource-update'), deleted: true };
  }
}

function parsePostedNotification(input: NotificationInput): ParsedNotification {
  if (input.body === undefined) return { ...emptyResult('empty'), unresolved: true };
  const subscription = normalizeSubscription(header(input, 'x-medplum-subscription'));
  const withSubscription = (parsed: ParsedNotification): ParsedNotification =>
    subscription && !parsed.subscription ? { ...parsed, subscription } : parsed;

  // Medplum deletes: body `{}`, the deleted resource named in a header. Nothing to analyze.
  if (header(input, 'x-medplum-interaction') === 'delete' || header(input, 'x-medplum-deleted-resource') !== undefined) {
    return withSubscription({ ...emptyResult('raw-resource'), deleted: true });
  }
  const resource = asRecord(input.body);
  if (!resource || typeof resource.resourceType !== 'string') {
    throw new NotificationInvalidError({ detail: 'body must be a FHIR resource' });
  }
  if (resource.resourceType === 'Bundle') return withSubscription(parseNotificationBundle(resource));
  if (resource.resourceType !== 'ImagingStudy') throw unsupportedType(resource.resourceType);

  const ids = studyEventFromImagingStudy(resource);
  if (!ids.imagingStudyId) throw new NotificationInvalidError({ detail: 'ImagingStudy.id missing or invalid' });
  return withSubscription({ ...emptyResult('raw-resource'), studies: [ids as StudyEvent] });
}

function parseResourceUpdate(imagingStudyId: string, body: unknown): ParsedNotification {
  const study: StudyEvent = { imagingStudyId };
  const resource = asRecord(body);
  if (body !== undefined && !resource) throw new NotificationInvalidError({ detail: 'body must be a FHIR resource' });
  if (resource && Object.keys(resource).length > 0) {
    if (resource.resourceType !== 'ImagingStudy') {
      if (typeof resource.resourceType !== 'string') throw new NotificationInvalidError({ detail: 'body must be a FHIR resource' });
      throw unsupportedType(resource.resourceType);
    }
    const ids = studyEventFromImagingStudy(resource);
    if (resource.id !== undefined && resource.id !== imagingStudyId) {
      throw new NotificationInvalidError({ detail: 'ImagingStudy.id differs from the id in the path' });
    }
    if (ids.versionId) study.versionId = ids.versionId;
    if (ids.studyInstanceUid) study.studyInstanceUid = ids.studyInstanceUid;
  }
  return { ...emptyResult('resource-update'), studies: [study] };
}

function emptyResult(style: ParsedNotification['style']): ParsedNotification {
  return { style, type: 'event-notification', deleted: false, studies: [], eventNumbers: [], ignoredEntries: 0, unresolved: false };
}

function header(input: NotificationInput, name: string): string | undefined {
  const value = input.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A resource type name is a public FHIR constant; anything that does not look like one is left out. */
function unsupportedType(resourceType: string): ResourceTypeUnsupportedError {
  return new ResourceTypeUnsupportedError(/^[A-Z][A-Za-z]{0,63}$/.test(resourceType) ? { detail: resourceType } : {});
}
