import { readFileSync } from 'node:fs';
import type { ResultAlgorithm } from '../dicom/writers/result-common.ts';
import type { ModelInfo } from '../model/types.ts';
import { deriveDicomUid } from '../shared/uids.ts';

/** Who made the model: written into the FHIR Device and the DICOM Contributing Equipment. */
export const MODEL_MANUFACTURER = 'UniMedVL authors (General-Medical-AI), run by unimedvl-plugin';

const pluginVersion = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The processing algorithm as DICOM results name it: plugin and model version, a stable device UID. */
export function describeAlgorithm(model: Pick<ModelInfo, 'name' | 'version'>): ResultAlgorithm {
  return {
    manufacturer: 'unimedvl-plugin',
    modelName: model.name,
    softwareVersion: `${pluginVersion}; model ${model.version}`,
    deviceUid: deriveDicomUid(`model:${model.name}@${model.version}`, 'device'),
  };
}
