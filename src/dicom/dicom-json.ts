// DICOM JSON model (PS3.18 F.2): the shape QIDO-RS and WADO-RS metadata answer with.
// DICOM keywords appear only here and where DICOM objects are built or read.

export interface DicomJsonElement {
  vr: string;
  Value?: unknown[];
  InlineBinary?: string;
  BulkDataURI?: string;
}

export type DicomJsonDataset = Record<string, DicomJsonElement>;

/** Tags we read, as 8-hex-digit DICOM JSON keys. */
export const Tag = {
  SOPClassUID: '00080016',
  SOPInstanceUID: '00080018',
  StudyDate: '00080020',
  Modality: '00080060',
  SeriesDescription: '0008103E',
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  SeriesNumber: '00200011',
  InstanceNumber: '00200013',
  ImagePositionPatient: '00200032',
  ImageOrientationPatient: '00200037',
  FrameOfReferenceUID: '00200052',
  BodyPartExamined: '00180015',
  SliceThickness: '00180050',
  NumberOfFrames: '00280008',
  Rows: '00280010',
  Columns: '00280011',
  PixelSpacing: '00280030',
  BitsAllocated: '00280100',
  TransferSyntaxUID: '00020010',
  NumberOfStudyRelatedInstances: '00201208',
  NumberOfSeriesRelatedInstances: '00201209',
  ModalitiesInStudy: '00080061',
} as const;

export function firstString(dataset: DicomJsonDataset, tag: string): string | undefined {
  const value = dataset[tag]?.Value?.[0];
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
}

export function firstNumber(dataset: DicomJsonDataset, tag: string): number | undefined {
  const value = dataset[tag]?.Value?.[0];
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

export function numbers(dataset: DicomJsonDataset, tag: string): number[] | undefined {
  const values = dataset[tag]?.Value;
  if (!values) return undefined;
  const parsed = values.map((v) => (typeof v === 'number' ? v : Number(v)));
  return parsed.every(Number.isFinite) ? parsed : undefined;
}
