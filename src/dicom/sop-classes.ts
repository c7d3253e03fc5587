// The SOP classes the service writes or recognizes among results (PS3.4 B.5), from one table.

export const SOP_CLASS = {
  SecondaryCaptureImageStorage: '1.2.840.10008.5.1.4.1.1.7',
  MultiFrameGrayscaleByteSecondaryCaptureImageStorage: '1.2.840.10008.5.1.4.1.1.7.2',
  MultiFrameGrayscaleWordSecondaryCaptureImageStorage: '1.2.840.10008.5.1.4.1.1.7.3',
  MultiFrameTrueColorSecondaryCaptureImageStorage: '1.2.840.10008.5.1.4.1.1.7.4',
  SegmentationStorage: '1.2.840.10008.5.1.4.1.1.66.4',
  EnhancedSRStorage: '1.2.840.10008.5.1.4.1.1.88.22',
  ComprehensiveSRStorage: '1.2.840.10008.5.1.4.1.1.88.33',
} as const;

/** What kind of result object a SOP class is: a segmentation, a structured report, or a (secondary capture) image. */
export function resultKindOf(sopClassUid: string): 'SEG' | 'SR' | 'SC' {
  if (sopClassUid === SOP_CLASS.SegmentationStorage) return 'SEG';
  if (sopClassUid === SOP_CLASS.EnhancedSRStorage || sopClassUid === SOP_CLASS.ComprehensiveSRStorage) return 'SR';
  return 'SC';
}
