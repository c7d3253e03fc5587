// Reads a written object back, independently of the builders: with dcmjs, and with pydicom through
// Debian's python (not the python3 first on PATH).
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DicomJsonDataset } from '../../../src/dicom/dicom-json.ts';
import { readPart10 } from '../../../src/dicom/writers/dcmjs-io.ts';
import { unpackBinaryFrames } from '../../../src/dicom/writers/pack-bits.ts';

const run = promisify(execFile);

export interface ReadBackFrame {
  referencedSopInstanceUid: string;
  referencedFrameNumber: number | undefined;
  segmentNumber: number;
  position: number[];
  pixels: number[];
}

const seq = (ds: DicomJsonDataset, tag: string) => (ds[tag]?.Value ?? []) as DicomJsonDataset[];
const first = (ds: DicomJsonDataset, tag: string) => ds[tag]?.Value?.[0];

/** SEG frames as dcmjs reads them: references, segment, position and unpacked pixels. */
export function readSegWithDcmjs(bytes: Uint8Array): { dataset: DicomJsonDataset; frames: ReadBackFrame[] } {
  const { dataset } = readPart10(bytes);
  const rows = first(dataset, '00280010') as number;
  const columns = first(dataset, '00280011') as number;
  const count = Number(first(dataset, '00280008'));
  const bits = first(dataset, '00280100') as number;
  const data = new Uint8Array(first(dataset, '7FE00010') as ArrayBuffer);
  const pixelFrames = bits === 1
    ? unpackBinaryFrames(data, count, rows * columns)
    : Array.from({ length: count }, (_, f) => data.subarray(f * rows * columns, (f + 1) * rows * columns));
  const frames = seq(dataset, '52009230').map((group, f): ReadBackFrame => {
    const source = seq(seq(group, '00089124')[0]!, '00082112')[0]!;
    const frameNumber = first(source, '00081160');
    return {
      referencedSopInstanceUid: first(source, '00081155') as string,
      referencedFrameNumber: frameNumber === undefined ? undefined : Number(frameNumber),
      segmentNumber: first(seq(group, '0062000A')[0]!, '0062000B') as number,
      position: ((seq(group, '00209113')[0]?.['00200032']?.Value ?? []) as unknown[]).map(Number),
      pixels: [...pixelFrames[f]!],
    };
  });
  return { dataset, frames };
}

const PYDICOM_SCRIPT = `
import json, sys
import pydicom
ds = pydicom.dcmread(sys.argv[1])
arr = ds.pixel_array
if int(ds.NumberOfFrames) == 1:
    arr = arr.reshape((1,) + arr.shape)
out = []
for f, group in enumerate(ds.PerFrameFunctionalGroupsSequence):
    src = group.DerivationImageSequence[0].SourceImageSequence[0]
    out.append({
        "referencedSopInstanceUid": str(src.ReferencedSOPInstanceUID),
        "referencedFrameNumber": int(src.ReferencedFrameNumber) if "ReferencedFrameNumber" in src else None,
        "segmentNumber": int(group.SegmentIdentificationSequence[0].ReferencedSegmentNumber),
        "position": [float(v) for v in group.PlanePositionSequence[0].ImagePositionPatient] if "PlanePositionSequence" in group else [],
        "pixels": [int(v) for v in arr[f].flatten()],
    })
print(json.dumps(out))
`;

/** The same view of a SEG, read by pydicom (Debian's /usr/bin/python3). */
export async function readSegWithPydicom(bytes: Uint8Array): Promise<ReadBackFrame[]> {
  const dir = await mkdtemp(join(tmpdir(), 'seg-pydicom-'));
  try {
    const file = join(dir, 'seg.dcm');
    await writeFile(file, bytes);
    const { stdout } = await run('/usr/bin/python3', ['-c', PYDICOM_SCRIPT, file], { maxBuffer: 256 * 1024 * 1024 });
    return (JSON.parse(stdout) as (ReadBackFrame & { referencedFrameNumber: number | null })[])
      .map((f) => ({ ...f, referencedFrameNumber: f.referencedFrameNumber ?? undefined }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Pixel data of an image object as pydicom decodes it (flattened, frame-major). */
export async function readPixelsWithPydicom(bytes: Uint8Array): Promise<{ shape: number[]; pixels: number[]; imageType: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'sc-pydicom-'));
  try {
    const file = join(dir, 'image.dcm');
    await writeFile(file, bytes);
    const script = 'import json,sys,pydicom\nds=pydicom.dcmread(sys.argv[1])\na=ds.pixel_array\n'
      + 'print(json.dumps({"shape":list(a.shape),"pixels":[int(v) for v in a.flatten()],"imageType":list(ds.ImageType)}))';
    const { stdout } = await run('/usr/bin/python3', ['-c', script, file], { maxBuffer: 256 * 1024 * 1024 });
    return JSON.parse(stdout) as { shape: number[]; pixels: number[]; imageType: string[] };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
