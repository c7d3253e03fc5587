// Part 10 bytes -> DecodedInstance: parse, pick the decoder for the transfer syntax, turn every frame into
// stored values (typed by BitsAllocated and PixelRepresentation), and bring colour to interleaved RGB.
import { PixelDecodeError, TransferSyntaxUnsupportedError, DicomParseError } from '../../shared/errors.ts';
import { runCodec, type Codecs } from './codecs.ts';
import { expandYbr422, planarToInterleaved, ybrFullToRgb } from './colour.ts';
import type { DecodedInstance, Orientation, StoredFrame, Vec3 } from './decoded-instance.ts';
import { splitFrames } from './encapsulated-frames.ts';
import { decodeJpegLossless } from './jpeg-lossless.ts';
import { readPart10, type DicomDataset } from './read-part10.ts';
import { decodeRleFrame } from './rle.ts';
import { TAG } from '../tags.ts';
import { describeTransferSyntax, type PixelCodec } from './transfer-syntax.ts';

interface ImageLayout {
  rows: number;
  columns: number;
  samples: 1 | 3;
  bitsAllocated: 8 | 16;
  bitsStored: number;
  signed: boolean;
  photometric: string;
  planar: boolean;
  frames: number;
}

/**
 * Decodes every frame of one instance. Throws TransferSyntaxUnsupportedError when no local decoder exists
 * (the caller then asks the server for explicit little endian), DicomParseError / PixelDecodeError otherwise.
 */
export function decodeInstance(bytes: Uint8Array, codecs: Codecs): DecodedInstance {
  const { transferSyntaxUid, dataset: ds } = readPart10(bytes);
  const ts = describeTransferSyntax(transferSyntaxUid);
  if (!ts.codec) throw new TransferSyntaxUnsupportedError(transferSyntaxUid);
  const layout = readLayout(ds);
  const pixelData = ds.element(TAG.PixelData);
  if (!pixelData) throw new DicomParseError({ detail: 'no pixel data' });

  let frames: StoredFrame[];
  try {
    if (ts.encapsulated) {
      if (!pixelData.fragments) throw new Error('pixel data is not encapsulated');
      const encoded = splitFrames(pixelData.fragments, layout.frames, ts.codec.startsWith('jpeg'));
      frames = encoded.map((frame) => decodeEncodedFrame(frame, ts.codec as PixelCodec, layout, codecs, transferSyntaxUid));
    } else {
      frames = decodeNativeFrames(pixelData.value, pixelData.littleEndian, layout);
    }
  } catch (cause) {
    if (cause instanceof TransferSyntaxUnsupportedError || cause instanceof PixelDecodeError) throw cause;
    throw new PixelDecodeError({ cause, detail: ts.codec });
  }

  const geometry = readGeometry(ds, layout.frames);
  return {
    transferSyntaxUid,
    sopClassUid: ds.string(TAG.SOPClassUID) ?? '',
    sopInstanceUid: requireString(ds, TAG.SOPInstanceUID, 'SOPInstanceUID'),
    studyInstanceUid: requireString(ds, TAG.StudyInstanceUID, 'StudyInstanceUID'),
    seriesInstanceUid: requireString(ds, TAG.SeriesInstanceUID, 'SeriesInstanceUID'),
    modality: ds.string(TAG.Modality),
    instanceNumber: ds.number(TAG.InstanceNumber),
    seriesDescription: ds.string(TAG.SeriesDescription),
    storedDecimals: storedDecimals(ds),
    bodyPartExamined: ds.string(TAG.BodyPartExamined),
    rows: layout.rows,
    columns: layout.columns,
    samplesPerPixel: layout.samples,
    bitsAllocated: layout.bitsAllocated,
    bitsStored: layout.bitsStored,
    pixelRepresentation: layout.signed ? 1 : 0,
    photometricInterpretation: layout.samples === 3 ? 'RGB' : layout.photometric,
    storedPhotometricInterpretation: layout.photometric,
    numberOfFrames: layout.frames,
    frames,
    ...geometry,
    dataset: ds.detached(),
  };
}

function requireString(ds: DicomDataset, tag: number, name: string): string {
  const v = ds.string(tag);
  if (v === undefined) throw new DicomParseError({ detail: `missing ${name}` });
  return v;
}

function readLayout(ds: DicomDataset): ImageLayout {
  const rows = ds.uint16(TAG.Rows) ?? 0;
  const columns = ds.uint16(TAG.Columns) ?? 0;
  const samples = ds.uint16(TAG.SamplesPerPixel) ?? 1;
  const bitsAllocated = ds.uint16(TAG.BitsAllocated) ?? 0;
  if (rows === 0 || columns === 0) throw new DicomParseError({ detail: 'no image size' });
  if (samples !== 1 && samples !== 3) throw new PixelDecodeError({ detail: `samples per pixel ${samples}` });
  if (bitsAllocated !== 8 && bitsAllocated !== 16) throw new PixelDecodeError({ detail: `bits allocated ${bitsAllocated}` });
  return {
    rows,
    columns,
    samples,
    bitsAllocated,
    bitsStored: ds.uint16(TAG.BitsStored) ?? bitsAllocated,
    signed: ds.uint16(TAG.PixelRepresentation) === 1,
    photometric: ds.string(TAG.PhotometricInterpretation) ?? (samples === 3 ? 'RGB' : 'MONOCHROME2'),
    planar: samples === 3 && ds.uint16(TAG.PlanarConfiguration) === 1,
    frames: Math.max(1, ds.number(TAG.NumberOfFrames) ?? 1),
  };
}

function decodeNativeFrames(value: Uint8Array, littleEndian: boolean, layout: ImageLayout): StoredFrame[] {
  const pixels = layout.rows * layout.columns;
  const ybr422 = layout.photometric === 'YBR_FULL_422' && layout.samples === 3 && layout.bitsAllocated === 8;
  const frameBytes = ybr422 ? pixels * 2 : pixels * layout.samples * (layout.bitsAllocated / 8);
  if (value.length < frameBytes * layout.frames) throw new Error('pixel data shorter than the image');
  const frames: StoredFrame[] = [];
  for (let f = 0; f < layout.frames; f++) {
    let bytes: Uint8Array = new Uint8Array(value.subarray(f * frameBytes, (f + 1) * frameBytes)); // a copy: aligned, and ours to change
    if (layout.bitsAllocated === 16 && !littleEndian) swap16(bytes);
    if (ybr422) bytes = expandYbr422(bytes, layout.rows, layout.columns);
    else if (layout.planar) bytes = planarToInterleaved(bytes, pixels);
    frames.push(finishFrame(bytes, layout));
  }
  return frames;
}

function decodeEncodedFrame(frame: Uint8Array, codec: PixelCodec, layout: ImageLayout, codecs: Codecs,
  transferSyntaxUid: string): StoredFrame {
  const pixels = layout.rows * layout.columns;
  const bytesPerSample = layout.bitsAllocated / 8;
  switch (codec) {
    case 'rle':
      return finishFrame(decodeRleFrame(frame, pixels, layout.samples, bytesPerSample), layout);
    case 'jpeg-lossless': {
      const decoded = decodeJpegLossless(frame);
      checkSize(decoded.width, decoded.height, decoded.components, layout);
      const bytes = layout.bitsAllocated === 8 ? Uint8Array.from(decoded.samples) : new Uint8Array(decoded.samples.buffer);
      return finishFrame(bytes, layout, true);
    }
    case 'jpeg-turbo': {
      // libjpeg-turbo's 8-bit build: 12-bit extended (and lossless, handled above) are out of its reach.
      if (jpegPrecision(frame) > 8) throw new TransferSyntaxUnsupportedError(transferSyntaxUid);
      return fromCodec(codecs.jpeg, frame, layout, 'jpeg');
    }
    case 'jpeg-ls':
      return fromCodec(codecs.jpegLs, frame, layout, 'jpeg-ls');
    case 'jpeg-2000':
      return fromCodec(codecs.jpeg2000, frame, layout, 'jpeg-2000');
    default:
      throw new Error('native pixel data in an encapsulated syntax');
  }
}

function fromCodec(decoder: Codecs['jpeg'], frame: Uint8Array, layout: ImageLayout, name: string): StoredFrame {
  let result: ReturnType<typeof runCodec>;
  try {
    result = runCodec(decoder, frame);
  } catch (cause) {
    // Emscripten throws bare numbers (pointers): wrap them with the codec's name only.
    throw new PixelDecodeError({ cause: cause instanceof Error ? cause : undefined, detail: name });
  }
  checkSize(result.info.width, result.info.height, result.info.componentCount, layout);
  const expected = layout.rows * layout.columns * layout.samples * (layout.bitsAllocated / 8);
  let bytes = result.pixels;
  if (layout.bitsAllocated === 16 && result.info.bitsPerSample <= 8) bytes = widen8to16(bytes);
  if (bytes.length !== expected) throw new PixelDecodeError({ detail: `${name} output size` });
  // CharLS hands back a non-interleaved colour scan plane by plane.
  if (layout.samples === 3 && decoder.getInterleaveMode?.() === 0) bytes = planarToInterleaved(bytes, layout.rows * layout.columns);
  // The JPEG and JPEG 2000 codecs already undo YCbCr / MCT: their colour output is RGB.
  return finishFrame(bytes, { ...layout, photometric: layout.samples === 3 ? 'RGB' : layout.photometric }, true);
}

function checkSize(width: number, height: number, components: number, layout: ImageLayout): void {
  if (width !== layout.columns || height !== layout.rows || components !== layout.samples) {
    throw new PixelDecodeError({ detail: 'codestream size differs from the DICOM attributes' });
  }
}

/** Typed stored values from little-endian interleaved bytes, with the bits above BitsStored fixed. */
function finishFrame(bytes: Uint8Array, layout: ImageLayout, colourDone = false): StoredFrame {
  if (layout.samples === 3) {
    if (colourDone || layout.photometric === 'RGB') return bytes;
    if (layout.photometric === 'YBR_FULL' || layout.photometric === 'YBR_FULL_422') return ybrFullToRgb(bytes);
    throw new PixelDecodeError({ detail: `colour model ${layout.photometric}` });
  }
  const bits = layout.bitsStored;
  if (layout.bitsAllocated === 8) {
    if (bits < 8) maskOrExtend(bytes, bits, layout.signed, 8);
    return layout.signed ? new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length) : bytes;
  }
  const aligned = bytes.byteOffset % 2 === 0 ? bytes : new Uint8Array(bytes);
  const words = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length / 2);
  if (bits < 16) maskOrExtend(words, bits, layout.signed, 16);
  return layout.signed ? new Int16Array(words.buffer, words.byteOffset, words.length) : words;
}

/** Clears the bits above BitsStored, or copies the sign bit into them. */
function maskOrExtend(values: Uint8Array | Uint16Array, bits: number, signed: boolean, width: number): void {
  const mask = (1 << bits) - 1;
  const sign = 1 << (bits - 1);
  const high = ((1 << width) - 1) ^ mask;
  for (let i = 0; i < values.length; i++) {
    const v = (values[i] ?? 0) & mask;
    values[i] = signed && v & sign ? v | high : v;
  }
}

function swap16(bytes: Uint8Array): void {
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    const a = bytes[i] ?? 0;
    bytes[i] = bytes[i + 1] ?? 0;
    bytes[i + 1] = a;
  }
}

function widen8to16(bytes: Uint8Array): Uint8Array {
  const out = new Uint16Array(bytes.length);
  out.set(bytes);
  return new Uint8Array(out.buffer);
}

/** Sample precision from the first SOF marker of a JPEG stream (0 when none is found). */
function jpegPrecision(frame: Uint8Array): number {
  let p = 2;
  while (p + 4 < frame.length) {
    if (frame[p] !== 0xff) return 0;
    const marker = frame[p + 1] ?? 0;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return frame[p + 4] ?? 0;
    p += 2 + (((frame[p + 2] ?? 0) << 8) | (frame[p + 3] ?? 0));
  }
  return 0;
}

function readGeometry(ds: DicomDataset, frameCount: number) {
  const shared = ds.items(TAG.SharedFunctionalGroupsSequence)[0];
  const perFrame = ds.items(TAG.PerFrameFunctionalGroupsSequence);
  // A functional-group attribute: per-frame item, then the shared item, then the top-level dataset.
  const lookup = <T>(frame: number, sequence: number, read: (d: DicomDataset) => T | undefined): T | undefined => {
    for (const group of [perFrame[frame], shared]) {
      const item = group?.items(sequence)[0];
      const v = item ? read(item) : undefined;
      if (v !== undefined) return v;
    }
    return read(ds);
  };
  const framePositions: (Vec3 | undefined)[] = [];
  const frameRescales: { slope: number; intercept: number }[] = [];
  for (let f = 0; f < frameCount; f++) {
    framePositions.push(lookup(f, TAG.PlanePositionSequence, (d) => tuple<Vec3>(d.numbers(TAG.ImagePositionPatient), 3)));
    frameRescales.push({
      slope: lookup(f, TAG.PixelValueTransformationSequence, (d) => d.number(TAG.RescaleSlope)) ?? 1,
      intercept: lookup(f, TAG.PixelValueTransformationSequence, (d) => d.number(TAG.RescaleIntercept)) ?? 0,
    });
  }
  const center = lookup(0, TAG.FrameVOILUTSequence, (d) => d.number(TAG.WindowCenter));
  const width = lookup(0, TAG.FrameVOILUTSequence, (d) => d.number(TAG.WindowWidth));
  const first = frameRescales[0] ?? { slope: 1, intercept: 0 };
  return {
    framePositions,
    frameRescales,
    rescaleSlope: first.slope,
    rescaleIntercept: first.intercept,
    imageOrientationPatient: lookup(0, TAG.PlaneOrientationSequence, (d) => tuple<Orientation>(d.numbers(TAG.ImageOrientationPatient), 6)),
    pixelSpacing: lookup(0, TAG.PixelMeasuresSequence, (d) => tuple<[number, number]>(d.numbers(TAG.PixelSpacing), 2)),
    sliceThickness: lookup(0, TAG.PixelMeasuresSequence, (d) => d.number(TAG.SliceThickness)),
    spacingBetweenSlices: lookup(0, TAG.PixelMeasuresSequence, (d) => d.number(TAG.SpacingBetweenSlices)),
    frameOfReferenceUid: ds.string(TAG.FrameOfReferenceUID),
    window: center !== undefined && width !== undefined && width > 0 ? { center, width } : undefined,
  };
}

function tuple<T extends number[]>(values: number[] | undefined, length: number): T | undefined {
  return values && values.length >= length ? (values.slice(0, length) as T) : undefined;
}

/** The stored text of the patient-level DS attributes results copy (see DecodedInstance.storedDecimals). */
function storedDecimals(ds: DicomDataset): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tag of [TAG.PatientSize, TAG.PatientWeight]) {
    const text = ds.string(tag);
    if (text !== undefined) out[tag.toString(16).toUpperCase().padStart(8, '0')] = text;
  }
  return out;
}
