import { describe, expect, it } from 'vitest';
import { rgbToDicomLab } from '../../../src/dicom/writers/cielab.ts';

// Reference L*a*b* (D65) of sRGB colors, from the CIE formulas (e.g. red: L 53.24, a 80.09, b 67.20).
const scaled = ([l, a, b]: readonly [number, number, number]) => [(l * 65535) / 100, ((a + 128) * 65535) / 255, ((b + 128) * 65535) / 255];

describe('rgbToDicomLab', () => {
  it.each([
    [[255, 255, 255], [100, 0, 0]],
    [[0, 0, 0], [0, 0, 0]],
    [[255, 0, 0], [53.24, 80.09, 67.2]],
    [[0, 0, 255], [32.3, 79.19, -107.86]],
  ] as const)('converts sRGB %j to DICOM-scaled CIELab %j', (rgb, lab) => {
    const got = rgbToDicomLab(rgb);
    const want = scaled(lab);
    got.forEach((v, i) => {
      expect(Number.isInteger(v)).toBe(true);
      expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(40); // about 0.05 L* / 0.15 a*b* units
    });
  });
});
