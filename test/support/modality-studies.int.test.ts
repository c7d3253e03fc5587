// The synthesised per-modality studies (scripts/make-modality-samples.py): valid under dciodvfy, stored by a
// real Orthanc and read back over the project's DICOMweb client, and decoded by the project's own decoder.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDicomwebClient, type DicomPart, type DicomwebClient } from '../../src/dicom/dicomweb/dicomweb-client.ts';
import { Tag, firstNumber, firstString, type DicomJsonDataset } from '../../src/dicom/dicom-json.ts';
import { loadCodecs, type Codecs } from '../../src/dicom/pixels/codecs.ts';
import { decodeInstance } from '../../src/dicom/pixels/decode-instance.ts';
import type { StoredFrame } from '../../src/dicom/pixels/decoded-instance.ts';
import { readPart10 } from '../../src/dicom/pixels/read-part10.ts';
import { DicomParseError } from '../../src/shared/errors.ts';
import { dciodvfy } from './dciodvfy.ts';
import { FIXTURE_PATIENT, ensureFixtures } from './fixtures.ts';
import { MODALITY_SERIES, type ModalityInstance, type ModalityStudies, type ModalityStudyName } from './modality-studies.ts';
import { startOrthanc, type OrthancServer } from './orthanc.ts';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const STUDY_NAMES = Object.keys(MODALITY_SERIES) as ModalityStudyName[];
const TOTAL_PIXEL_MATRIX_COLUMNS = '00480006';
const FRAME_TIME = '00181063';

// dicom3tools 1.00~20220618 lists these three as Type 1 in the Ophthalmic Tomography Image Module, while its
// own Multi-frame Functional Groups check rejects them outside a concatenation (InConcatenationTotalNumber
// must be > 1): a single OPT instance cannot satisfy both, so the instance leaves them out.
const OPT_CONCATENATION_ERRORS = ['ConcatenationFrameOffsetNumber', 'InConcatenationNumber', 'InConcatenationTotalNumber']
  .map((name) => `Error - Missing attribute Type 1 Required Element=<${name}> Module=<OphthalmicTomographyImage>`);

/** Largest difference between a decoded frame's per-sample means and the generator's. */
function meanDifference(frame: StoredFrame, samples: number, expected: number[]): number {
  const sums = new Array<number>(samples).fill(0);
  for (let i = 0; i < frame.length; i++) sums[i % samples]! += frame[i] ?? 0;
  const pixels = frame.length / samples;
  return Math.max(...sums.map((sum, s) => Math.abs(sum / pixels - (expected[s] ?? NaN))));
}

function frameSha256(frame: StoredFrame): string {
  return sha256(new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength));
}

async function collect(parts: AsyncIterable<DicomPart>): Promise<DicomPart[]> {
  const out: DicomPart[] = [];
  for await (const part of parts) out.push(part);
  return out;
}

describe('synthesised modality studies', () => {
  let modality: ModalityStudies;
  let orthanc: OrthancServer;
  let client: DicomwebClient;
  let codecs: Codecs;

  beforeAll(async () => {
    [modality, codecs, orthanc] = await Promise.all([
      ensureFixtures().then((f) => f.modalityStudies()),
      loadCodecs(),
      startOrthanc(),
    ]);
    for (const name of STUDY_NAMES) {
      const uploaded = await orthanc.upload(modality.studies[name].files);
      expect(uploaded.every((u) => u.status === 'Success'), name).toBe(true);
    }
    client = createDicomwebClient({ baseUrl: orthanc.baseUrl });
  });

  afterAll(async () => {
    await client?.close();
    await orthanc?.stop();
  });

  it('are separate studies of the fixture patient, with the priors earlier than the current brain MR', () => {
    const { studies } = modality;
    expect(new Set(STUDY_NAMES.map((n) => studies[n].studyInstanceUid)).size).toBe(STUDY_NAMES.length);
    for (const name of STUDY_NAMES) {
      for (const file of studies[name].files) {
        const { dataset } = readPart10(readFileSync(file));
        expect(dataset.string(0x00100010), file).toBe(FIXTURE_PATIENT.name);
        expect(dataset.string(0x00100020), file).toBe(FIXTURE_PATIENT.id);
        expect(dataset.string(0x00100030), file).toBe(FIXTURE_PATIENT.birthDate);
        expect(dataset.string(0x00080050), file).toBe(studies[name].accessionNumber);
        expect(dataset.string(0x0020000d), file).toBe(studies[name].studyInstanceUid);
      }
      expect(studies[name].accessionNumber.startsWith(FIXTURE_PATIENT.accessionNumber)).toBe(true);
    }
    expect(studies.brainMrOlder.studyDate < studies.brainMrPrior.studyDate).toBe(true);
    expect(studies.brainMrPrior.studyDate < studies.brainMr.studyDate).toBe(true);
    // T2 and FLAIR pair slice by slice.
    const locations = (key: 't2' | 'flair') => studies.brainMr.series[key].instances.map((i) => i.sliceLocation);
    expect(locations('flair')).toEqual(locations('t2'));
    expect([studies.brainMr.series.t2.weighting, studies.brainMr.series.flair.weighting]).toEqual(['T2', 'FLAIR']);
  });

  it('are valid instances of their IODs (dciodvfy)', async () => {
    for (const name of STUDY_NAMES) {
      for (const file of modality.studies[name].files) {
        const result = await dciodvfy(file);
        expect(result.errors, `${name} ${file}\n${result.output}`).toEqual(name === 'oct' ? OPT_CONCATENATION_ERRORS : []);
        expect(result.warnings, `${name} ${file}`).toEqual([]);
      }
    }
  });

  it('build a WSI pyramid whose levels tile their total pixel matrix, plus a thumbnail and a label', () => {
    const instances = modality.studies.wholeSlide.series.slide.instances;
    const volumes = instances.filter((i) => i.imageType?.[2] === 'VOLUME');
    expect(volumes.map((i) => [i.totalPixelMatrixColumns, i.totalPixelMatrixRows])).toEqual([[2048, 1920], [1024, 960], [512, 480], [256, 240]]);
    for (const level of volumes) {
      expect([level.rows, level.columns]).toEqual([256, 256]);
      expect(level.frames).toBe(Math.ceil(level.totalPixelMatrixColumns! / 256) * Math.ceil(level.totalPixelMatrixRows! / 256));
    }
    expect(instances.map((i) => i.imageType?.[2]).sort()).toEqual(['LABEL', 'THUMBNAIL', 'VOLUME', 'VOLUME', 'VOLUME', 'VOLUME']);
  });

  it('are found by QIDO on PatientID and modality, newest brain MR first by date', async () => {
    const found = await client.searchStudies({ PatientID: FIXTURE_PATIENT.id, ModalitiesInStudy: 'MR' });
    const byDate = found.map((s) => [firstString(s, Tag.StudyDate), firstString(s, Tag.StudyInstanceUID)])
      .sort((a, b) => String(b[0]).localeCompare(String(a[0])));
    const { brainMr, brainMrPrior, brainMrOlder } = modality.studies;
    expect(byDate).toEqual([brainMr, brainMrPrior, brainMrOlder].map((s) => [s.studyDate, s.studyInstanceUid]));
  });

  describe.each(STUDY_NAMES)('%s', (name) => {
    it('is read back over DICOMweb: QIDO series, WADO metadata, one instance byte for byte', async () => {
      const study = modality.studies[name];
      const series = await client.searchSeries(study.studyInstanceUid);
      const expected = Object.values(study.series);
      expect(series.map((s) => [firstString(s, Tag.SeriesInstanceUID), firstString(s, Tag.Modality)]).sort())
        .toEqual(expected.map((s) => [s.seriesInstanceUid, s.modality]).sort());
      for (const s of expected) {
        const metadata = await client.retrieveSeriesMetadata(study.studyInstanceUid, s.seriesInstanceUid);
        const bySop = new Map<string | undefined, DicomJsonDataset>(metadata.map((m) => [firstString(m, Tag.SOPInstanceUID), m]));
        expect([...bySop.keys()].sort()).toEqual(s.instances.map((i) => i.sopInstanceUid).sort());
        for (const instance of s.instances) {
          const m = bySop.get(instance.sopInstanceUid)!;
          expect(firstString(m, Tag.SOPClassUID)).toBe(instance.sopClassUid);
          if (instance.rows !== undefined) {
            expect([firstNumber(m, Tag.Rows), firstNumber(m, Tag.Columns), firstNumber(m, Tag.NumberOfFrames) ?? 1])
              .toEqual([instance.rows, instance.columns, instance.frames]);
          }
          if (instance.totalPixelMatrixColumns !== undefined) expect(firstNumber(m, TOTAL_PIXEL_MATRIX_COLUMNS)).toBe(instance.totalPixelMatrixColumns);
          if (instance.frameTimeMs !== undefined) expect(firstNumber(m, FRAME_TIME)).toBe(instance.frameTimeMs);
        }
      }
      const first = expected[0]!;
      const last = first.instances.at(-1)!;
      const parts = await collect(client.retrieveInstance(study.studyInstanceUid, first.seriesInstanceUid, last.sopInstanceUid));
      expect(parts).toHaveLength(1);
      expect(parts[0]!.transferSyntaxUid).toBe(last.transferSyntaxUid);
      expect(sha256(parts[0]!.bytes)).toBe(sha256(readFileSync(last.path)));
    });

    it('is decoded frame by frame by the local decoder (series retrieved over WADO-RS)', async () => {
      const study = modality.studies[name];
      for (const s of Object.values(study.series)) {
        const parts = await collect(client.retrieveSeries(study.studyInstanceUid, s.seriesInstanceUid));
        const bySop = new Map<string, ModalityInstance>(s.instances.map((i) => [i.sopInstanceUid, i]));
        expect(parts).toHaveLength(s.instances.length);
        for (const part of parts) {
          const sop = readPart10(part.bytes).dataset.string(0x00080018)!;
          const instance = bySop.get(sop)!;
          expect(sha256(part.bytes)).toBe(sha256(readFileSync(instance.path)));
          if (!instance.pixels) {
            // SR and RT objects: nothing to decode, and the decoder says so with its stable error.
            expect(() => decodeInstance(part.bytes, codecs)).toThrow(DicomParseError);
            continue;
          }
          const decoded = decodeInstance(part.bytes, codecs);
          expect([decoded.rows, decoded.columns, decoded.numberOfFrames, decoded.samplesPerPixel, decoded.bitsAllocated])
            .toEqual([instance.rows, instance.columns, instance.frames, instance.samplesPerPixel, instance.bitsAllocated]);
          expect(decoded.photometricInterpretation).toBe(instance.samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2');
          expect(decoded.frames).toHaveLength(instance.frames!);
          decoded.frames.forEach((frame, f) => {
            if (instance.pixels!.lossless) {
              expect(frameSha256(frame), `${instance.path} frame ${f + 1}`).toBe(instance.pixels!.frameSha256![f]);
            } else {
              // JPEG baseline 4:2:2 at quality 90: a tile's means move by about 0.3 at most.
              expect(meanDifference(frame, instance.samplesPerPixel!, instance.pixels!.frameMeans[f]!), `${instance.path} frame ${f + 1}`)
                .toBeLessThan(1);
            }
          });
        }
      }
    });
  });
});
