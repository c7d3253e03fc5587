// The DICOMweb client against a real Orthanc 1.10 with its DICOMweb plugin.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildConnector } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDicomwebAgent } from '../../../src/dicom/dicomweb/dicomweb-agent.ts';
import { createDicomwebClient, type DicomPart, type DicomwebClient } from '../../../src/dicom/dicomweb/dicomweb-client.ts';
import { Tag, firstString, type DicomJsonDataset } from '../../../src/dicom/dicom-json.ts';
import { DependencyUnavailableError, StudyNotFoundError } from '../../../src/shared/errors.ts';
import { ensureFixtures, type SampleFixture, type SampleName } from '../../support/fixtures.ts';
import { copyWithFreshUids, randomDicomUid, type CopiedFile } from '../../support/orthanc-files.ts';
import { startOrthanc, type OrthancServer } from '../../support/orthanc.ts';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function collect(parts: AsyncIterable<DicomPart>): Promise<DicomPart[]> {
  const out: DicomPart[] = [];
  for await (const part of parts) out.push(part);
  return out;
}

const COMPRESSED: SampleName[] = ['MR_small_RLE', 'MR_small_jpeg_ls_lossless', 'MR_small_jp2klossless', 'JPGExtended'];

describe('DICOMweb client against Orthanc', () => {
  let orthanc: OrthancServer;
  let client: DicomwebClient;
  let work: string;
  let series: CopiedFile[];
  let samples: Record<SampleName, SampleFixture>;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'dicomweb-int-'));
    samples = (await ensureFixtures()).samples;
    orthanc = await startOrthanc();
    // Three copies of one CT slice in one new series, plus compressed samples (each its own study).
    series = await copyWithFreshUids([samples.CT_small.path, samples.CT_small.path, samples.CT_small.path], path.join(work, 'series'), { sameSeries: true });
    await orthanc.upload([...series.map((f) => f.path), ...COMPRESSED.map((name) => samples[name].path)]);
    client = createDicomwebClient({ baseUrl: orthanc.baseUrl });
  });

  afterAll(async () => {
    await client?.close();
    await orthanc?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const study = () => series[0]!.studyInstanceUid;
  const seriesUid = () => series[0]!.seriesInstanceUid;

  it('answers ping when up', async () => {
    await expect(client.ping()).resolves.toBeUndefined();
  });

  describe('QIDO-RS', () => {
    it('finds the study by modality, with includefield and limit', async () => {
      const all = await client.searchStudies({ ModalitiesInStudy: 'CT', includefield: [Tag.NumberOfStudyRelatedInstances] });
      const ours = all.find((s) => firstString(s, Tag.StudyInstanceUID) === study());
      expect(ours).toBeDefined();
      expect(Number(firstString(ours!, Tag.NumberOfStudyRelatedInstances))).toBe(3);
      expect(await client.searchStudies({ limit: 1 })).toHaveLength(1);
      const page = await client.searchStudies({ limit: 2, offset: 1 });
      expect(page.length).toBeLessThanOrEqual(2);
    });

    it('filters by StudyInstanceUID and by a StudyDate range', async () => {
      const byUid = await client.searchStudies({ StudyInstanceUID: study() });
      expect(byUid.map((s) => firstString(s, Tag.StudyInstanceUID))).toEqual([study()]);
      const date = firstString(byUid[0]!, Tag.StudyDate)!;
      const inRange = await client.searchStudies({ StudyDate: `${date}-${date}`, StudyInstanceUID: study() });
      expect(inRange).toHaveLength(1);
      const outOfRange = await client.searchStudies({ StudyDate: '19000101-19000102', StudyInstanceUID: study() });
      expect(outOfRange).toEqual([]);
    });

    it('matches value lists (comma-separated) for modalities and study UIDs', async () => {
      const other = samples.MR_small_RLE;
      const both = await client.searchStudies({ StudyInstanceUID: [study(), other.studyInstanceUid], ModalitiesInStudy: ['CT', 'MR'] });
      expect(both.map((s) => firstString(s, Tag.StudyInstanceUID)).sort()).toEqual([study(), other.studyInstanceUid].sort());
      const onlyCt = await client.searchStudies({ StudyInstanceUID: [study(), other.studyInstanceUid], ModalitiesInStudy: ['CT'] });
      expect(onlyCt.map((s) => firstString(s, Tag.StudyInstanceUID))).toEqual([study()]);
    });

    it('lists the series of a study and instances of a series', async () => {
      const found = await client.searchSeries(study());
      expect(found.map((s) => firstString(s, Tag.SeriesInstanceUID))).toEqual([seriesUid()]);
      const instances = await client.searchInstances(study(), seriesUid());
      expect(instances.map((i) => firstString(i, Tag.SOPInstanceUID)).sort()).toEqual(series.map((f) => f.sopInstanceUid).sort());
    });

    it('returns an empty list for a study Orthanc does not know', async () => {
      expect(await client.searchSeries(randomDicomUid())).toEqual([]);
    });
  });

  describe('WADO-RS metadata', () => {
    it('returns one dataset per instance for the study and the series', async () => {
      const studyMeta = await client.retrieveStudyMetadata(study());
      const seriesMeta = await client.retrieveSeriesMetadata(study(), seriesUid());
      for (const meta of [studyMeta, seriesMeta]) {
        expect(meta.map((d: DicomJsonDataset) => firstString(d, Tag.SOPInstanceUID)).sort()).toEqual(series.map((f) => f.sopInstanceUid).sort());
        expect(meta.every((d) => firstString(d, Tag.Rows) === '128')).toBe(true);
      }
    });

    it('throws StudyNotFoundError for an unknown study, with no UID in the message', async () => {
      const unknown = randomDicomUid();
      const error = await client.retrieveStudyMetadata(unknown).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StudyNotFoundError);
      expect((error as Error).message).not.toContain(unknown);
      await expect(collect(client.retrieveSeries(unknown, randomDicomUid()))).rejects.toBeInstanceOf(StudyNotFoundError);
    });
  });

  describe('WADO-RS retrieve', () => {
    it('streams every instance of a series byte-identical to the uploaded files (transfer-syntax=*)', async () => {
      const parts = await collect(client.retrieveSeries(study(), seriesUid()));
      expect(parts).toHaveLength(3);
      const expected = series.map((f) => sha256(readFileSync(f.path))).sort();
      expect(parts.map((p) => sha256(p.bytes)).sort()).toEqual(expected);
      expect(parts.every((p) => p.contentType.startsWith('application/dicom') && p.transferSyntaxUid === '1.2.840.10008.1.2.1')).toBe(true);
      const wholeStudy = await collect(client.retrieveStudy(study()));
      expect(wholeStudy.map((p) => sha256(p.bytes)).sort()).toEqual(expected);
    });

    it('returns compressed instances as stored, with their transfer syntax', async () => {
      for (const name of COMPRESSED) {
        const sample = samples[name];
        const parts = await collect(client.retrieveInstance(sample.studyInstanceUid, sample.seriesInstanceUid, sample.sopInstanceUid));
        expect(parts, name).toHaveLength(1);
        expect(sha256(parts[0]!.bytes), name).toBe(sha256(readFileSync(sample.path)));
        expect(parts[0]!.transferSyntaxUid, name).toBe(sample.transferSyntaxUid);
      }
    });

    it('asks for explicit VR little endian when told and gets it transcoded', async () => {
      const sample = samples.MR_small_RLE;
      const parts = await collect(client.retrieveInstance(sample.studyInstanceUid, sample.seriesInstanceUid, sample.sopInstanceUid, { transferSyntax: '1.2.840.10008.1.2.1' }));
      expect(parts).toHaveLength(1);
      expect(parts[0]!.transferSyntaxUid).toBe('1.2.840.10008.1.2.1');
    });

    it('lets a consumer stop early and keeps working afterwards', async () => {
      for await (const part of client.retrieveSeries(study(), seriesUid())) {
        expect(part.bytes.length).toBeGreaterThan(0);
        break;
      }
      expect(await collect(client.retrieveSeries(study(), seriesUid()))).toHaveLength(3);
    });
  });

  describe('STOW-RS', () => {
    it('stores new instances and reports each one; they come back byte-identical', async () => {
      const fresh = await copyWithFreshUids([samples.MR_small.path, samples.MR_small.path], path.join(work, 'stow'), { sameSeries: true });
      const bytes = fresh.map((f) => readFileSync(f.path));
      const result = await client.storeInstances(fresh[0]!.studyInstanceUid, bytes);
      expect(result.httpStatus).toBe(200);
      expect(result.instances.map((i) => [i.sopInstanceUid, i.outcome])).toEqual(fresh.map((f) => [f.sopInstanceUid, 'stored']));
      expect(result).toMatchObject({ storedCount: 2, failedCount: 0 });
      const back = await collect(client.retrieveSeries(fresh[0]!.studyInstanceUid, fresh[0]!.seriesInstanceUid));
      expect(back.map((p) => sha256(p.bytes)).sort()).toEqual(bytes.map(sha256).sort());
    });

    it('reports an instance sent to another study\'s URL as failed (409, 0110) and a re-sent one as stored', async () => {
      const [file] = await copyWithFreshUids([samples.MR_small.path], path.join(work, 'wrong-study'));
      const bytes = readFileSync(file!.path);
      const wrong = await client.storeInstances(randomDicomUid(), [bytes]);
      expect(wrong).toMatchObject({ httpStatus: 409, storedCount: 0, retryable: false });
      expect(wrong.instances[0]).toMatchObject({ outcome: 'failed', failureReason: '0110', retryable: false });
      expect((await client.storeInstances(undefined, [bytes])).instances[0]!.outcome).toBe('stored');
      expect((await client.storeInstances(undefined, [bytes])).instances[0]!.outcome).toBe('stored');
    });

    it('reports per instance when Orthanc answers 400 for a valid file sent with an invalid one', async () => {
      const [valid] = await copyWithFreshUids([samples.MR_small.path], path.join(work, 'mixed'));
      const result = await client.storeInstances(undefined, [readFileSync(valid!.path), Buffer.from('this is not DICOM')]);
      expect(result.httpStatus).toBe(400);
      expect(result.instances.map((i) => i.outcome)).toEqual(['stored', 'failed']);
      expect(result.instances[0]!.sopInstanceUid).toBe(valid!.sopInstanceUid);
      expect(result.retryable).toBe(false);
      const stored = await client.searchInstances(valid!.studyInstanceUid, valid!.seriesInstanceUid);
      expect(stored.map((i) => firstString(i, Tag.SOPInstanceUID))).toEqual([valid!.sopInstanceUid]);
    });
  });

  describe('connections', () => {
    it('reuses a connection for back-to-back requests and survives idle gaps longer than Keep-Alive timeout=1', async () => {
      let connects = 0;
      const connector = buildConnector({});
      const agent = createDicomwebAgent({
        connect: (options, callback) => {
          connects++;
          connector(options, callback);
        },
      });
      const counted = createDicomwebClient({ baseUrl: orthanc.baseUrl, dispatcher: agent });
      try {
        for (let i = 0; i < 8; i++) await counted.searchSeries(study());
        // The pool may open a second connection while the first is being released; never one per request.
        expect(connects).toBeLessThanOrEqual(2);
        for (let i = 0; i < 3; i++) {
          await sleep(1_200); // Orthanc has closed its side by now
          expect(await counted.searchSeries(study())).toHaveLength(1);
          expect(await collect(counted.retrieveSeries(study(), seriesUid()))).toHaveLength(3);
        }
      } finally {
        await agent.close();
      }
    });
  });

  describe('outage', () => {
    it('throws a retryable DependencyUnavailableError while Orthanc is down and works again once it is back', async () => {
      await orthanc.suspend();
      try {
        const error = await client.ping().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(DependencyUnavailableError);
        expect((error as DependencyUnavailableError).retryable).toBe(true);
        await expect(collect(client.retrieveSeries(study(), seriesUid()))).rejects.toBeInstanceOf(DependencyUnavailableError);
      } finally {
        await orthanc.resume();
      }
      // Storage survives the restart.
      expect(await collect(client.retrieveSeries(study(), seriesUid()))).toHaveLength(3);
    });
  });
});
