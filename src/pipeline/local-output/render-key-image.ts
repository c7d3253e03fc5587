import { PNG } from 'pngjs';

export type Rgb = readonly [number, number, number];

export interface KeyImageInput {
  width: number;
  height: number;
  /** 8-bit display image, one byte per pixel (already windowed). Give this or `rgb`. */
  grey?: Uint8Array;
  /** 8-bit RGB, interleaved, 3 bytes per pixel. Give this or `grey`. */
  rgb?: Uint8Array;
  /** 0/1 per pixel, row-major, same size as the image. */
  mask?: Uint8Array;
  /** Overlay colour; default a strong orange-red. */
  maskColour?: Rgb;
  /** Weight of the colour inside the mask, 0..1; default 0.4. The outline is drawn fully opaque. */
  maskOpacity?: number;
}

export const DEFAULT_MASK_COLOUR: Rgb = [255, 80, 40];
export const DEFAULT_MASK_OPACITY = 0.4;

/** Blend of one channel: (1 - a) * base + a * colour, rounded. */
export function blendChannel(base: number, colour: number, opacity: number): number {
  return Math.round((1 - opacity) * base + opacity * colour);
}

/** A mask pixel is on the outline when a 4-neighbour is outside the mask or the image. */
function isOutline(mask: Uint8Array, width: number, height: number, x: number, y: number): boolean {
  if (x === 0 || y === 0 || x === width - 1 || y === height - 1) return true;
  const i = y * width + x;
  return mask[i - 1] === 0 || mask[i + 1] === 0 || mask[i - width] === 0 || mask[i + width] === 0;
}

/**
 * A key image for the local report: the display image as PNG, with the mask (if any) laid over it
 * semi-transparently and its outline in the full colour, so the structure stays visible on any grey.
 */
export function renderKeyImagePng(input: KeyImageInput): Buffer {
  const { width, height, grey, rgb, mask } = input;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError('width and height must be positive integers');
  }
  const pixels = width * height;
  if ((grey === undefined) === (rgb === undefined)) throw new TypeError('give exactly one of grey or rgb');
  if (grey !== undefined && grey.length !== pixels) throw new RangeError('grey must hold width * height bytes');
  if (rgb !== undefined && rgb.length !== pixels * 3) throw new RangeError('rgb must hold width * height * 3 bytes');
  if (mask !== undefined && mask.length !== pixels) throw new RangeError('mask must hold width * height values');
  const colour = input.maskColour ?? DEFAULT_MASK_COLOUR;
  const opacity = input.maskOpacity ?? DEFAULT_MASK_OPACITY;
  if (!(opacity >= 0 && opacity <= 1)) throw new RangeError('maskOpacity must be in [0, 1]');

  // pngjs holds RGBA; the file is written as RGB (colour type 2): no alpha channel to confuse viewers.
  const png = new PNG({ width, height });
  const out = png.data;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const o = i * 4;
      for (let c = 0; c < 3; c++) out[o + c] = grey !== undefined ? grey[i]! : rgb![i * 3 + c]!;
      out[o + 3] = 255;
      if (mask !== undefined && mask[i] !== 0) {
        const edge = isOutline(mask, width, height, x, y);
        for (let c = 0; c < 3; c++) out[o + c] = edge ? colour[c]! : blendChannel(out[o + c]!, colour[c]!, opacity);
      }
    }
  }
  return PNG.sync.write(png, { colorType: 2 });
}
