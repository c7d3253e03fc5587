// Segment colours: DICOM stores RecommendedDisplayCIELabValue as CIE L*a*b* (D65) scaled to 0..65535
// (PS3.3 C.10.7.1.1). Callers usually think in sRGB, so convert here.

function srgbToLinear(channel: number): number {
  const c = channel / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

function labF(t: number): number {
  return t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116;
}

/** sRGB (0..255 each) to DICOM-scaled CIELab, rounded to integers. */
export function rgbToDicomLab(rgb: readonly [number, number, number]): [number, number, number] {
  const [r, g, b] = rgb.map(srgbToLinear) as [number, number, number];
  const x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047;
  const y = 0.2126729 * r + 0.7151522 * g + 0.072175 * b;
  const z = (0.0193339 * r + 0.119192 * g + 0.9503041 * b) / 1.08883;
  const fx = labF(x);
  const fy = labF(y);
  const fz = labF(z);
  const lStar = 116 * fy - 16;
  const aStar = 500 * (fx - fy);
  const bStar = 200 * (fy - fz);
  const clamp = (v: number): number => Math.min(65535, Math.max(0, Math.round(v)));
  return [clamp((lStar * 65535) / 100), clamp(((aStar + 128) * 65535) / 255), clamp(((bStar + 128) * 65535) / 255)];
}
