// Result objects stored in a real Orthanc (DICOMweb plugin) next to a real source study: they appear
// as new series of that study, come back byte-identical with transfer-syntax=*, and a second write
// of the same job leaves the same single instances.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DicomJsonDataset } from '../../../src/dicom/dicom-json.ts';
import { createDicomwebClient, type DicomwebClient } from '../../../src/dicom/dicomweb/dicomweb-client.ts';
import { buildDerivedImage } from '../../../src/dicom/writers/build-derived-image.ts';
import { buildReportSR } from '../../../src/dicom/writers/build-report-sr.ts';
import { buildSegmentation } from '../../../src/dicom/writers/build-segmentation.ts';
import { writePart10 } from '../../../src/dicom/writers/dcmjs-io.ts';
import type { DicomResultObject } from '../../../src/dicom/writers/result-common.ts';
import { part10Meta } from '../../../src/dicom/writers/result-common.ts';
import { storeResults } from '../../../src/dicom/dicomweb/store-results.ts';
import { startOrthanc, type OrthancServer } from '../../support/orthanc.ts';
import { maskFor, syntheticSource, testContext } from '../writers/synthetic-source.ts';

const source = syntheticSource({ slices: 3, studyKey: 'writers-int' });

/** The synthetic source instances as real CT files (16x12, 16-bit), so the study exists in Orthanc. */
async function writeSourceFiles(dir: string): Promise<string[]> {
  return Promise.all(source.instances.map(async (instance, i) => {
    const dataset: DicomJsonDataset = structuredClone(instance);
    Object.assign(dataset, {
      '00080008': { vr: 'CS', Value: ['ORIGINAL', 'PRIMARY', 'AXIAL'] },
      '00280002': { vr: 'US', Value: [1] },
      '00280004': { vr: 'CS', Value: ['MONOCHROME2'] },
      '00280100': { vr: 'US', Value: [16] },
      '00280101': { vr: 'US', Value: [12] },
      '00280102': { vr: 'US', Value: [11] },
      '00280103': { vr: 'US', Value: [0] },
      '7FE00010': { vr: 'OW', Value: [new Uint16Array(16 * 12).fill(100 + i).buffer] },
    });
    const uid = instance['00080018']!.Value![0] as string;
    const file = join(dir, `source-${i}.dcm`);
    await writeFile(file, writePart10(part10Meta('1.2.840.10008.5.1.4.1.1.2', uid), dataset));
    return file;
  }));
}

function buildAll(): DicomResultObject[] {
  const context = testContext('writers-int-job');
  const { rows, columns } = source.geometry;
  return [
    buildSegmentation({
      source, context,
      segments: [{
        label: 'Liver', category: { value: '85756007', scheme: 'SCT', meaning: 'Tissue' },
        type: { value: '10200004', scheme: 'SCT', meaning: 'Liver' }, algorithm: { name: 'UniMedVL', version: '0.1.0' },
        masks: source.geometry.slices.map((_, k) => maskFor(rows, columns, k)),
      }],
    }),
    buildDerivedImage({ source, context, image: { rows: 8, columns: 8, format: 'RGB8', frames: [new Uint8Array(192).fill(9)] } }),
    buildReportSR({ source, context, reportText: 'Draft: no acute finding.' }),
  ];
}

describe('storeResults with Orthanc', () => {
  let orthanc: OrthancServer;
  let client: DicomwebClient;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'writers-int-'));
    orthanc = await startOrthanc();
    await orthanc.upload(await writeSourceFiles(dir));
    client = createDicomwebClient({ baseUrl: orthanc.baseUrl });
  });
  afterAll(async () => {
    await client?.close();
    await orthanc?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('stores SEG, SC and SR as new series of the source study, byte-identical, once per job', async () => {
    const studyUid = source.geometry.studyInstanceUid;
    const objects = buildAll();
    const first = await storeResults({ stow: client }, objects);
    expect(first.instances.map((i) => i.outcome)).toEqual(['stored', 'stored', 'stored']);

    // A retry of the same job rebuilds identical bytes and stores them again.
    const again = buildAll();
    expect(again.map((o) => Buffer.from(o.bytes).equals(Buffer.from(objects[again.indexOf(o)]!.bytes)))).toEqual([true, true, true]);
    const second = await storeResults({ stow: client }, again);
    expect(second.instances.map((i) => i.sopInstanceUid)).toEqual(objects.map((o) => o.sopInstanceUid));

    const series = await client.searchSeries(studyUid);
    const seriesUids = series.map((s) => s['0020000E']!.Value![0]).sort();
    expect(seriesUids).toEqual([source.geometry.seriesInstanceUid, ...objects.map((o) => o.seriesInstanceUid)].sort());
    const modalities = series.map((s) => s['00080060']!.Value![0]).sort();
    expect(modalities).toEqual(['CT', 'OT', 'SEG', 'SR']);

    for (const object of objects) {
      const instances = await client.searchInstances(studyUid, object.seriesInstanceUid);
      expect(instances.map((i) => i['00080018']!.Value![0])).toEqual([object.sopInstanceUid]);
      const parts = [];
      for await (const part of client.retrieveInstance(studyUid, object.seriesInstanceUid, object.sopInstanceUid, { transferSyntax: '*' })) {
        parts.push(part);
      }
      expect(parts).toHaveLength(1);
      expect(Buffer.from(parts[0]!.bytes).equals(Buffer.from(object.bytes))).toBe(true);
    }
  });
});
