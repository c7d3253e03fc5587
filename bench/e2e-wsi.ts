import { readFileSync, statSync } from 'node:fs';
import type { ImagingStudy } from '@medplum/fhirtypes';
import { decodeInstance, loadCodecs } from '../src/dicom/pixels/index.ts';
import { assembleTiledImage } from '../src/dicom/volume/assemble-tiled-image.ts';
import { startService } from '../src/main.ts';
import { createLogger } from '../src/shared/logger.ts';
import { startFaultProxy } from '../test/support/fault-proxy.ts';
import { ensureFixtures } from '../test/support/fixtures.ts';
import { startFhirServer } from '../test/support/fhir-server.ts';
import { startOrthanc } from '../test/support/orthanc.ts';
import { openTestRedis } from '../test/support/redis.ts';
import { waitForRun } from '../test/support/service-probe.ts';

/**
 * Whole-slide case: notification to report written for the synthesised 4-level H&E pyramid (2048x1920 ..
 * 256x240, 256x256 JPEG tiles, plus thumbnail and label) with the tiny bundle and the default task profiles,
 * Orthanc behind a counting proxy. Prints the bytes that crossed the wire against the whole series and its
 * full-resolution level (the baselines, from the same files), the decode + tile assembly time of the chosen
 * level against the full-resolution one (both measured here), and the time of each step.
 */
export async function runWholeSlideBench(): Promise<void> {
  const [orthanc, fhir, fixtures] = await Promise.all([startOrthanc(), startFhirServer(), ensureFixtures()]);
  const proxy = await startFaultProxy(orthanc.restUrl);
  const { prefix, cleanup } = openTestRedis();
  const study = (await fixtures.modalityStudies()).studies.wholeSlide;
  await orthanc.upload(study.files);
  const endpoint = await fhir.repo.createResource({
    resourceType: 'Endpoint', status: 'active', address: proxy.baseUrl(orthanc.baseUrl), payloadType: [{ text: 'DICOM' }],
    connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' },
  });
  const imagingStudy = await fhir.repo.createResource<ImagingStudy>({
    resourceType: 'ImagingStudy', status: 'available', identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${study.studyInstanceUid}` }],
    endpoint: [{ reference: `Endpoint/${endpoint.id}` }], subject: { reference: 'Patient/bench' },
  });
  const service = await startService('serve', {
    PORT: '0', HOST: '127.0.0.1', QUEUE_PREFIX: prefix, FHIR_URL: fhir.baseUrl, DEBOUNCE_MS: '0', RECONCILE_INTERVAL_MS: '0', EXECUTION_PROVIDER: 'cpu',
    ALLOW_UNAUTHENTICATED: 'true', DICOMWEB_ALLOWED_ORIGINS: new URL(proxy.baseUrl(orthanc.baseUrl)).origin, ASK_TASK_POLL_INTERVAL_MS: '0',
  }, { logger: createLogger({ level: 'warn' }) });
  try {
    const api = `http://127.0.0.1:${service.port}`;
    const started = performance.now();
    const response = await fetch(`${api}/fhir/notify/ImagingStudy/${imagingStudy.id}`, {
      method: 'PUT', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'ImagingStudy', id: imagingStudy.id, status: 'available' }),
    });
    const { jobs } = (await response.json()) as { jobs: { jobId: string }[] };
    const run = await waitForRun(api, jobs[0]!.jobId, undefined, 36_000);
    const totalMs = performance.now() - started;
    if (run.state !== 'completed') throw new Error(`run ended ${run.state}: ${run.errorCode}`);

    const slide = study.series.slide.instances;
    const seriesBytes = slide.reduce((n, i) => n + statSync(i.path).size, 0);
    const full = slide.find((i) => i.imageType?.[2] === 'VOLUME' && i.totalPixelMatrixColumns === Math.max(...slide.map((s) => s.totalPixelMatrixColumns ?? 0)))!;
    const summary = run.series[0]!;
    const gets = proxy.forwarded().filter((r) => r.method === 'GET');
    const pixelBytes = gets.filter((r) => !r.url.includes('/metadata') && /\/instances\/|\/series\/[^/]+$/.test(r.url.split('?')[0]!)).reduce((n, r) => n + r.bytes, 0);
    const metadataBytes = gets.filter((r) => r.url.includes('/metadata')).reduce((n, r) => n + r.bytes, 0);
    console.log('whole-slide H&E pyramid (4 levels 2048x1920 .. 256x240, 256x256 JPEG tiles, thumbnail, label), tiny bundle on CPU, default profiles');
    console.log(`chosen level: ${summary.pyramidLevel?.level} of ${summary.pyramidLevel?.levels} (${summary.columns}x${summary.rows}, ${summary.pyramidLevel?.tiles} tiles)`);
    console.log(`pixel data retrieved: ${pixelBytes} bytes (run record: ${summary.bytes}); metadata: ${metadataBytes} bytes`);
    console.log(`  ratio to the whole series (${seriesBytes} bytes): ${(pixelBytes / seriesBytes).toFixed(3)}; to the full-resolution level (${statSync(full.path).size} bytes): ${(pixelBytes / statSync(full.path).size).toFixed(3)}`);

    // Decode + assemble: the chosen level vs the full-resolution level, same machine, same run (median of 3).
    const codecs = await loadCodecs();
    const chosen = slide.find((i) => i.imageType?.[2] === 'VOLUME' && i.totalPixelMatrixColumns === summary.columns)!;
    const time = (path: string) => {
      const bytes = new Uint8Array(readFileSync(path));
      const samples = [0, 1, 2].map(() => {
        const t = performance.now();
        assembleTiledImage(decodeInstance(bytes, codecs));
        return performance.now() - t;
      }).sort((a, b) => a - b);
      return samples[1]!;
    };
    const chosenMs = time(chosen.path);
    const fullMs = time(full.path);
    console.log(`decode + tile assembly: chosen level ${chosenMs.toFixed(1)} ms, full resolution ${fullMs.toFixed(1)} ms (ratio ${(chosenMs / fullMs).toFixed(3)})`);

    console.log(`notification to report written: ${(totalMs / 1000).toFixed(2)} s`);
    console.log('step                  seconds   share of total');
    const steps: Record<string, number> = {};
    for (const attempt of run.attempts) {
      for (const [step, ms] of Object.entries(attempt.timingsMs ?? {})) steps[step] = (steps[step] ?? 0) + ms;
    }
    for (const [step, ms] of Object.entries(steps)) {
      console.log(`${step.padEnd(20)} ${(ms / 1000).toFixed(3).padStart(8)}   ${((100 * ms) / totalMs).toFixed(1).padStart(5)} %`);
    }
  } finally {
    await service.stop();
    await Promise.all([orthanc.stop(), fhir.stop(), proxy.stop()]);
    await cleanup();
  }
}
