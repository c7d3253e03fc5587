// Modality values (16-bit sources, rescale applied) to the 8-bit grey the model takes: the DICOM VOI
// linear function (PS3.3 C.11.2.1.2.1) with the source's window or a CT preset, or min-max /
// percentile stretch where no window means anything (MR, other). MONOCHROME1 is inverted.

export type WindowChoice =
  | { kind: 'voi'; center: number; width: number }
  | { kind: 'min-max' }
  | { kind: 'percentile'; low: number; high: number };

export type CtPreset = 'soft-tissue' | 'lung' | 'bone';

export const CT_PRESETS: Readonly<Record<CtPreset, { center: number; width: number }>> = {
  'soft-tissue': { center: 40, width: 400 },
  lung: { center: -600, width: 1500 },
  bone: { center: 400, width: 1800 },
};

/** The window for a series: an asked-for CT preset, else the source's VOI, else soft tissue (CT) or 0.5-99.5 percentiles. */
export function chooseWindow(source: { modality: string; window?: { center: number; width: number } }, preset?: CtPreset): WindowChoice {
  if (preset && source.modality === 'CT') return { kind: 'voi', ...CT_PRESETS[preset] };
  if (source.window && source.window.width >= 1) return { kind: 'voi', ...source.window };
  if (source.modality === 'CT') return { kind: 'voi', ...CT_PRESETS['soft-tissue'] };
  return { kind: 'percentile', low: 0.5, high: 99.5 };
}

/** DICOM VOI LINEAR (C.11.2.1.2.1) to 0..255. */
export function voiLinear(x: number, center: number, width: number): number {
  if (width < 1) throw new RangeError('window width must be at least 1');
  const low = center - 0.5 - (width - 1) / 2;
  const high = center - 0.5 + (width - 1) / 2;
  if (x <= low) return 0;
  if (x > high) return 255;
  return Math.round(((x - (center - 0.5)) / (width - 1) + 0.5) * 255);
}

function percentile(sorted: Float32Array, p: number): number {
  const at = Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * (sorted.length - 1))));
  return sorted[at]!;
}

function stretch(pixels: Float32Array, low: number, high: number): Uint8Array {
  const out = new Uint8Array(pixels.length);
  const range = high - low;
  for (let i = 0; i < pixels.length; i++) {
    out[i] = range <= 0 ? 0 : Math.round(Math.min(1, Math.max(0, (pixels[i]! - low) / range)) * 255);
  }
  return out;
}

/** Windows one slice of modality values to 8-bit grey for display/model input. */
export function windowToUint8(
  pixels: Float32Array, choice: WindowChoice, photometricInterpretation: 'MONOCHROME1' | 'MONOCHROME2' = 'MONOCHROME2',
): Uint8Array {
  let out: Uint8Array;
  if (choice.kind === 'voi') {
    out = new Uint8Array(pixels.length);
    for (let i = 0; i < pixels.length; i++) out[i] = voiLinear(pixels[i]!, choice.center, choice.width);
  } else if (choice.kind === 'min-max') {
    let min = Infinity;
    let max = -Infinity;
    for (const v of pixels) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    out = stretch(pixels, min, max);
  } else {
    const sorted = Float32Array.from(pixels).sort();
    out = stretch(pixels, percentile(sorted, choice.low), percentile(sorted, choice.high));
  }
  // MONOCHROME1: low values are white; the model expects MONOCHROME2 appearance.
  if (photometricInterpretation === 'MONOCHROME1') for (let i = 0; i < out.length; i++) out[i] = 255 - out[i]!;
  return out;
}
