// Segment colors: DICOM stores RecommendedDisplayCIELabValue as CIE L*a*b* (D65) scaled to 0..65535
// (PS3.3 C.10.7.1.1). Callers think in sRGB; dcmjs's color helpers convert.
import { rgbToDicomLabScaled } from './dcmjs-io.ts';

/** sRGB (0..255 each) to DICOM-scaled CIELab, rounded to integers. */
export function rgbToDicomLab(rgb: readonly [number, number, number]): [number, number, number] {
  const clamp = (v: number): number => Math.min(65535, Math.max(0, Math.round(v)));
  const [l, a, b] = rgbToDicomLabScaled([rgb[0] / 255, rgb[1] / 255, rgb[2] / 255]).map(clamp) as [number, number, number];
  return [l, a, b];
}
