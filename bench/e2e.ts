import type { ImagingStudy } from '@medplum/fhirtypes';
import { startService } from '../src/main.ts';
import type { JobView } from '../src/queue/job-view.ts';
import { createLogger } from '../src/shared/logger.ts';
import { ensureFixtures } from '../test/support/fixtures.ts';
import { startFhirServer } from '../test/support/fhir-server.ts';
import { startOrthanc } from '../test/support/orthanc.ts';
import { openTestRedis } from '../test/support/redis.ts';

/**
 * Notification to report written, for a 64-slice 512x512 CT with the tiny bundle and the default task
 * profiles, against real Orthanc, Redis and the FHIR test server. Prints the wall time of each stage and
 * its share of the whole (the baseline is the run's own total).
 */
export async function runEndToEndBench(): Promise<void> {
  const [orthanc, fhir, fixtures] = await Promise.all([startOrthanc(), startFhirServer(), ensureFixtures()]);
  const { prefix, cleanup } = openTestRedis();
  const ct = (await fixtures.ctSeries(64)).variants['explicit-le'];
  await orthanc.upload(ct.files);
  const endpoint = await fhir.repo.createResource({
    resourceType: 'Endpoint', status: 'active', address: orthanc.baseUrl, payloadType: [{ text: 'DICOM' }],
    connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' },
  });
  const study = await fhir.repo.createResource<ImagingStudy>({
    resourceType: 'ImagingStudy', status: 'available', identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${ct.studyInstanceUid}` }],
    endpoint: [{ reference: `Endpoint/${endpoint.id}` }], subject: { reference: 'Patient/bench' },
  });
  const service = await startService('serve', {
    PORT: '0', HOST: '127.0.0.1', QUEUE_PREFIX: prefix, FHIR_URL: fhir.baseUrl, DEBOUNCE_MS: '0', RECONCILE_INTERVAL_MS: '0', EXECUTION_PROVIDER: 'cpu',
  }, { logger: createLogger({ level: 'warn' }) });
  try {
    const api = `http://127.0.0.1:${service.port}`;
    const started = performance.now();
    const response = await fetch(`${api}/fhir/notify/ImagingStudy/${study.id}`, {
      method: 'PUT', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'ImagingStudy', id: study.id, status: 'available' }),
    });
    const ackMs = performance.now() - started;
    const { jobs } = (await response.json()) as { jobs: { jobId: string }[] };
    let view: JobView | undefined;
    while (!view || (view.state !== 'completed' && view.state !== 'failed')) {
      await new Promise((r) => setTimeout(r, 200));
      view = (await (await fetch(`${api}/jobs/${jobs[0]!.jobId}`)).json()) as JobView;
    }
    const totalMs = performance.now() - started;
    if (view.state !== 'completed') throw new Error(`job failed: ${view.failureCode}`);
    const timings = (view.result as { timingsMs: Record<string, number> }).timingsMs;
    console.log(`64-slice CT (512x512, 16-bit), tiny bundle on CPU, default task profiles`);
    console.log(`notification answered in ${ackMs.toFixed(1)} ms; notification to report written: ${(totalMs / 1000).toFixed(2)} s`);
    console.log('stage                 seconds   share of total');
    for (const [stage, ms] of Object.entries(timings)) {
      console.log(`${stage.padEnd(20)} ${(ms / 1000).toFixed(3).padStart(8)}   ${((100 * ms) / totalMs).toFixed(1).padStart(5)} %`);
    }
  } finally {
    await service.stop();
    await Promise.all([orthanc.stop(), fhir.stop()]);
    await cleanup();
  }
}
