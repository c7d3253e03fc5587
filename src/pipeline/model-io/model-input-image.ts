import { greyToRgb } from './grey-to-rgb.ts';
import { chooseWindow, windowToUint8, type WindowChoice } from './window-to-8bit.ts';
import type { Volume } from '../../dicom/volume/volume.ts';
import type { RgbImage } from '../../model/types.ts';
import type { Windowing } from '../task-profiles/index.ts';

/** The window a task's `windowing` gives for this volume (see task-profile-schema.ts). */
function windowFor(volume: Volume, windowing: Windowing): WindowChoice {
  switch (windowing) {
    case 'auto':
      return chooseWindow({ modality: volume.modality, ...(volume.window ? { window: volume.window } : {}) });
    case 'percentile':
      return { kind: 'percentile', low: 0.5, high: 99.5 };
    case 'stored-range': {
      // Modality values of unsigned stored data span 0 .. 2^BitsStored - 1 (display-ready 8-bit US/OCT frames).
      const top = 2 ** Math.max(1, Math.min(16, volume.bitsStored)) - 1;
      return { kind: 'voi', center: (top + 1) / 2, width: top + 1 };
    }
  }
}

/** 8-bit grey of one slice as a viewer would show it (VOI window or preset, MONOCHROME1 inverted). */
export function sliceToDisplayGrey(volume: Volume, sliceIndex: number, windowing: Windowing = 'auto'): Uint8Array {
  const size = volume.rows * volume.columns * volume.samplesPerPixel;
  const pixels = volume.pixels.subarray(sliceIndex * size, (sliceIndex + 1) * size);
  if (volume.samplesPerPixel === 3) {
    // Colour sources: luminance for grey displays and masks (ITU-R BT.601 weights).
    const grey = new Uint8Array(volume.rows * volume.columns);
    for (let i = 0; i < grey.length; i += 1) {
      grey[i] = Math.round(0.299 * pixels[3 * i]! + 0.587 * pixels[3 * i + 1]! + 0.114 * pixels[3 * i + 2]!);
    }
    return grey;
  }
  const photometric = volume.photometricInterpretation === 'MONOCHROME1' ? 'MONOCHROME1' : 'MONOCHROME2';
  return windowToUint8(pixels, windowFor(volume, windowing), photometric);
}

/** The RGB image UniMedVL takes for one slice: colour as stored, grey windowed and replicated. */
export function sliceToModelImage(volume: Volume, sliceIndex: number, windowing: Windowing = 'auto'): RgbImage {
  const size = volume.rows * volume.columns;
  if (volume.samplesPerPixel === 3) {
    const pixels = volume.pixels.subarray(sliceIndex * size * 3, (sliceIndex + 1) * size * 3);
    const data = new Uint8Array(size * 3);
    for (let i = 0; i < data.length; i += 1) data[i] = Math.min(255, Math.max(0, Math.round(pixels[i]!)));
    return { width: volume.columns, height: volume.rows, data };
  }
  return { width: volume.columns, height: volume.rows, data: greyToRgb(sliceToDisplayGrey(volume, sliceIndex, windowing)) };
}

/** Generated RGB back to 8-bit grey (mean of the channels): masks and grey derived series. */
export function rgbToGrey(image: RgbImage): Uint8Array {
  const grey = new Uint8Array(image.width * image.height);
  for (let i = 0; i < grey.length; i += 1) {
    grey[i] = Math.floor((image.data[3 * i]! + image.data[3 * i + 1]! + image.data[3 * i + 2]!) / 3);
  }
  return grey;
}
