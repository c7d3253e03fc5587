import { describe, expect, it } from 'vitest';
import { CT_PRESETS, chooseWindow, voiLinear, windowToUint8 } from '../../../src/pipeline/model-io/window-to-8bit.ts';

describe('voiLinear (PS3.3 C.11.2.1.2.1)', () => {
  it('follows the standard linear function at its edges and centre', () => {
    // c=40, w=400: x <= c-0.5-(w-1)/2 = -160 -> 0; x > c-0.5+(w-1)/2 = 239 -> 255
    expect(voiLinear(-160, 40, 400)).toBe(0);
    expect(voiLinear(-159, 40, 400)).toBe(1);
    expect(voiLinear(239, 40, 400)).toBe(255);
    expect(voiLinear(240, 40, 400)).toBe(255);
    expect(voiLinear(39.5, 40, 400)).toBe(128);
    expect(() => voiLinear(0, 0, 0)).toThrow(RangeError);
  });
});

describe('chooseWindow / windowToUint8', () => {
  it('uses an asked CT preset, else the source VOI, else soft tissue for CT and percentiles otherwise', () => {
    expect(chooseWindow({ modality: 'CT', window: { center: 1, width: 2 } }, 'lung')).toEqual({ kind: 'voi', ...CT_PRESETS.lung });
    expect(chooseWindow({ modality: 'CT', window: { center: 50, width: 350 } })).toEqual({ kind: 'voi', center: 50, width: 350 });
    expect(chooseWindow({ modality: 'CT' })).toEqual({ kind: 'voi', center: 40, width: 400 });
    expect(chooseWindow({ modality: 'MR' })).toEqual({ kind: 'percentile', low: 0.5, high: 99.5 });
    expect(CT_PRESETS.bone).toEqual({ center: 400, width: 1800 });
  });

  it('windows bone preset, stretches min-max, and inverts MONOCHROME1', () => {
    const hu = Float32Array.from([-1000, 400, 2000]);
    expect([...windowToUint8(hu, { kind: 'voi', ...CT_PRESETS.bone })]).toEqual([0, 128, 255]);
    expect([...windowToUint8(Float32Array.from([10, 20, 30]), { kind: 'min-max' })]).toEqual([0, 128, 255]);
    expect([...windowToUint8(Float32Array.from([10, 20, 30]), { kind: 'min-max' }, 'MONOCHROME1')]).toEqual([255, 127, 0]);
  });

  it('clips outliers with percentiles', () => {
    const values = Float32Array.from({ length: 1001 }, (_, i) => (i === 1000 ? 1e6 : i));
    const out = windowToUint8(values, { kind: 'percentile', low: 0, high: 99 });
    expect(out[0]).toBe(0);
    expect(out[990]).toBe(255);
    expect(out[495]).toBe(128);
  });
});
