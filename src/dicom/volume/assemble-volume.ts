// Decoded instances of one series -> one Volume: every frame becomes a slice, slices are ordered along the
// slice normal (row direction x column direction), stored values become modality values (rescale applied).
import { VolumeAssemblyError } from '../../shared/errors.ts';
import type { DecodedInstance, Vec3 } from '../pixels/decoded-instance.ts';
import type { SliceSource, Volume } from './volume.ts';

interface FrameRef {
  instance: DecodedInstance;
  frameIndex: number;
  position: Vec3 | undefined;
  slope: number;
  intercept: number;
}

/** Relative tolerance for calling slice spacing regular, and absolute tolerance (mm) for orientation cosines. */
const SPACING_TOLERANCE = 0.01;
const ORIENTATION_TOLERANCE = 1e-3;

/**
 * Builds the volume. Slice order: ascending projection of ImagePositionPatient on the normal (for axial images,
 * feet to head); without geometry, ascending InstanceNumber then frame number. Throws VolumeAssemblyError
 * (with a PHI-free detail) for an empty input, several series, or frames of different size or kind.
 */
export function assembleVolume(instances: readonly DecodedInstance[]): Volume {
  const first = instances[0];
  if (!first) throw new VolumeAssemblyError({ detail: 'no instances' });
  for (const inst of instances) checkCompatible(first, inst);

  const frames: FrameRef[] = instances.flatMap((instance) => instance.frames.map((_, frameIndex) => ({
    instance,
    frameIndex,
    position: instance.framePositions[frameIndex],
    slope: instance.frameRescales[frameIndex]?.slope ?? instance.rescaleSlope,
    intercept: instance.frameRescales[frameIndex]?.intercept ?? instance.rescaleIntercept,
  })));

  const orientation = first.imageOrientationPatient;
  const normal = orientation ? cross([orientation[0], orientation[1], orientation[2]], [orientation[3], orientation[4], orientation[5]]) : undefined;
  const byGeometry = normal !== undefined && frames.every((f) => f.position !== undefined);
  const distance = (f: FrameRef) => (byGeometry && f.position && normal ? dot(f.position, normal) : 0);
  frames.sort((a, b) =>
    (byGeometry ? distance(a) - distance(b) : 0) ||
    (a.instance.instanceNumber ?? 0) - (b.instance.instanceNumber ?? 0) ||
    a.frameIndex - b.frameIndex);

  const { rows, columns, samplesPerPixel } = first;
  const sliceLength = rows * columns * samplesPerPixel;
  const pixels = new Float32Array(sliceLength * frames.length);
  const rescale = samplesPerPixel === 1;
  frames.forEach((f, z) => {
    const stored = f.instance.frames[f.frameIndex];
    if (!stored || stored.length !== sliceLength) throw new VolumeAssemblyError({ detail: 'frame length differs from its size' });
    const offset = z * sliceLength;
    if (!rescale || (f.slope === 1 && f.intercept === 0)) {
      pixels.set(stored, offset);
    } else {
      for (let i = 0; i < sliceLength; i++) pixels[offset + i] = (stored[i] ?? 0) * f.slope + f.intercept;
    }
  });

  const slices: SliceSource[] = frames.map((f) => ({
    sopClassUid: f.instance.sopClassUid,
    sopInstanceUid: f.instance.sopInstanceUid,
    frameNumber: f.frameIndex + 1,
    ...(f.position ? { imagePositionPatient: f.position } : {}),
  }));

  const volume: Volume = {
    studyInstanceUid: first.studyInstanceUid,
    seriesInstanceUid: first.seriesInstanceUid,
    modality: first.modality ?? 'OT',
    rows,
    columns,
    depth: frames.length,
    samplesPerPixel,
    photometricInterpretation: photometric(first),
    pixels,
    slices,
    bitsStored: first.bitsStored,
  };
  if (first.frameOfReferenceUid !== undefined) volume.frameOfReferenceUid = first.frameOfReferenceUid;
  if (orientation) volume.imageOrientationPatient = orientation;
  if (first.pixelSpacing) volume.pixelSpacing = first.pixelSpacing;
  if (first.sliceThickness !== undefined) volume.sliceThickness = first.sliceThickness;
  const spacing = byGeometry ? regularSpacing(frames.map(distance)) : undefined;
  if (spacing !== undefined) volume.spacingBetweenSlices = spacing;
  if (first.window) volume.window = first.window;
  return volume;
}

function checkCompatible(first: DecodedInstance, inst: DecodedInstance): void {
  if (inst.seriesInstanceUid !== first.seriesInstanceUid) throw new VolumeAssemblyError({ detail: 'instances from several series' });
  if (inst.rows !== first.rows || inst.columns !== first.columns) throw new VolumeAssemblyError({ detail: 'mixed image sizes' });
  if (inst.samplesPerPixel !== first.samplesPerPixel || photometric(inst) !== photometric(first)) {
    throw new VolumeAssemblyError({ detail: 'mixed photometric interpretations' });
  }
  const a = first.imageOrientationPatient;
  const b = inst.imageOrientationPatient;
  if (a && b && a.some((v, i) => Math.abs(v - (b[i] ?? NaN)) > ORIENTATION_TOLERANCE)) {
    throw new VolumeAssemblyError({ detail: 'mixed orientations' });
  }
}

function photometric(inst: DecodedInstance): Volume['photometricInterpretation'] {
  const p = inst.photometricInterpretation;
  if (p === 'RGB' || p === 'MONOCHROME1' || p === 'MONOCHROME2') return p;
  // PALETTE COLOR and friends would need a lookup table this service does not apply.
  throw new VolumeAssemblyError({ detail: 'unsupported photometric interpretation' });
}

/** The mean step between sorted slice distances when every step is within 1% of it; else undefined. */
function regularSpacing(distances: number[]): number | undefined {
  if (distances.length < 2) return undefined;
  const steps = distances.slice(1).map((d, i) => d - (distances[i] ?? 0));
  const mean = steps.reduce((s, v) => s + v, 0) / steps.length;
  if (!(mean > 0)) return undefined;
  if (steps.some((s) => Math.abs(s - mean) > SPACING_TOLERANCE * mean)) return undefined;
  return Math.round(mean * 1e4) / 1e4;
}

function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

function dot(a: Vec3, b: Vec3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
