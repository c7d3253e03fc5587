import { firstNumber, firstString, Tag, type DicomJsonDataset } from '../dicom/dicom-json.ts';
import { isAiSeriesDescription } from '../dicom/writers/result-common.ts';

/** Series that are results or non-image objects: never analyzed (our own outputs would loop otherwise). */
const NON_IMAGE_MODALITIES = new Set(['SEG', 'SR', 'KO', 'PR', 'RTSTRUCT', 'RTPLAN', 'RTDOSE', 'REG', 'DOC', 'ECG', 'AU']);

export interface SeriesSelectionRule {
  modalities: readonly string[];
  maxInstances: number;
}

export interface SelectedSeries {
  seriesInstanceUid: string;
  modality: string;
  instances: number | undefined;
}

/** The default rule: every image series of an allowed modality that is not one of our results. */
export function selectSeries(series: readonly DicomJsonDataset[], rule: SeriesSelectionRule): SelectedSeries[] {
  const allowed = new Set(rule.modalities.map((m) => m.toUpperCase()));
  const selected: SelectedSeries[] = [];
  for (const s of series) {
    const uid = firstString(s, Tag.SeriesInstanceUID);
    const modality = (firstString(s, Tag.Modality) ?? '').toUpperCase();
    const description = firstString(s, Tag.SeriesDescription) ?? '';
    const instances = firstNumber(s, Tag.NumberOfSeriesRelatedInstances);
    if (!uid || NON_IMAGE_MODALITIES.has(modality) || !allowed.has(modality)) continue;
    if (isAiSeriesDescription(description)) continue;
    if (instances !== undefined && instances > rule.maxInstances) continue;
    selected.push({ seriesInstanceUid: uid, modality, instances });
  }
  return selected;
}
