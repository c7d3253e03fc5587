import { RESEARCH_USE_STATEMENT } from '../../shared/research-use-notice.ts';
import type { Device } from '@medplum/fhirtypes';
import { PROFILE_URLS } from '../profile-urls.ts';
import type { ModelInput } from './result-input.ts';
import { MODEL_IDENTIFIER_SYSTEM, modelIdentifierValue } from './result-identity.ts';

/** The Device that stands for the model (one per model name + version, shared by all jobs). */
export function buildModelDevice(model: ModelInput): Device {
  return {
    resourceType: 'Device',
    meta: { profile: [PROFILE_URLS.Device] },
    identifier: [{ system: MODEL_IDENTIFIER_SYSTEM, value: modelIdentifierValue(model) }],
    status: 'active',
    manufacturer: model.manufacturer,
    deviceName: [{ name: model.name, type: 'model-name' }],
    modelNumber: model.name,
    type: { text: 'AI medical vision-language model (software)' },
    version: [{ value: model.version }],
    note: [{ text: RESEARCH_USE_STATEMENT }],
  };
}
