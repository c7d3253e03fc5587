// Stable identities for everything one job writes: identifiers for conditional creates and urn:uuid
// fullUrls derived from the job key, so building the same job twice gives the same Bundle.
import type { Identifier } from '@medplum/fhirtypes';
import { DICOM_UID_SYSTEM, dicomUidValue } from '../../shared/study-uid-identifier.ts';
import { uuidV5 } from '../../shared/uids.ts';
import { JOB_IDENTIFIER_SYSTEM } from '../task-status.ts';

export { JOB_IDENTIFIER_SYSTEM };
/** Identifies one resource of a job's results: value `<jobKey>:<role>`. */
export const RESULT_IDENTIFIER_SYSTEM = 'urn:unimedvl-plugin:result';
/** Identifies a model: value `<name>@<version>`. */
export const MODEL_IDENTIFIER_SYSTEM = 'urn:unimedvl-plugin:model';

export function resultIdentifier(jobKey: string, role: string): Identifier {
  return { system: RESULT_IDENTIFIER_SYSTEM, value: `${jobKey}:${role}` };
}

export function modelIdentifierValue(model: { name: string; version: string }): string {
  return `${model.name}@${model.version}`;
}

/** `identifier=<system>|<value>` for If-None-Exist; the value is URL-encoded (model names may hold spaces). */
export function identifierQuery(identifier: Identifier): string {
  return `identifier=${encodeURIComponent(`${identifier.system}|${identifier.value}`)}`;
}

export function fullUrlFor(jobKey: string, role: string): string {
  return `urn:uuid:${uuidV5(`unimedvl-plugin:fhir:${jobKey}:${role}`)}`;
}

export function dicomUidIdentifier(uid: string): Identifier {
  return { system: DICOM_UID_SYSTEM, value: dicomUidValue(uid) };
}
