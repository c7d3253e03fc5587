import type { Media } from '@medplum/fhirtypes';
import { AI_SECURITY_LABEL } from '../ai-label.ts';
import { PROFILE_URLS } from '../profile-urls.ts';
import type { KeyImageInput } from './result-input.ts';
import { dicomUidIdentifier, resultIdentifier } from './result-identity.ts';

export function keyImageRole(index: number, key?: string): string {
  return `media:${key ?? `key-image-${index}`}`;
}

/** A key image or overlay the model made, as a Media the report's `media` points at. */
export function buildKeyImageMedia(
  context: { jobKey: string; imagingStudyId: string; subjectReference?: string; deviceReference: string; recordedAt: string },
  image: KeyImageInput,
  index: number,
): Media {
  return {
    resourceType: 'Media',
    meta: { profile: [PROFILE_URLS.Media], security: [AI_SECURITY_LABEL] },
    identifier: [resultIdentifier(context.jobKey, keyImageRole(index, image.key)), dicomUidIdentifier(image.sopInstanceUid)],
    status: 'completed',
    type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/media-type', code: 'image', display: 'Image' }] },
    partOf: [{ reference: `ImagingStudy/${context.imagingStudyId}` }],
    ...(context.subjectReference ? { subject: { reference: context.subjectReference } } : {}),
    createdDateTime: context.recordedAt,
    issued: context.recordedAt,
    device: { reference: context.deviceReference },
    content: {
      contentType: image.contentType ?? 'application/dicom',
      ...(image.url ? { url: image.url } : {}),
      title: image.title ?? 'AI key image',
      creation: context.recordedAt,
    },
  };
}
