import type { ImagingStudy } from '@medplum/fhirtypes';
import { startService } from '../src/main.ts';
import { waitForRun } from '../test/support/service-probe.ts';
import { createLogger } from '../src/shared/logger.ts';
import { ensureFixtures } from '../test/support/fixtures.ts';
import { startFhirServer } from '../test/support/fhir-server.ts';
import { startOrthanc } from '../test/support/orthanc.ts';
import { openTestRedis } from '../test/support/redis.ts';

/**
 * Notification to report written, for a 64-slice 512x512 CT with the tiny bundle and the default task
 * profiles, against real Orthanc, Redis and the FHIR test server. The FHIR server refuses the first
 * result write (503), so the run takes the publish-retry path. Prints the wall time of each step and its
 * share of the whole (the baseline is the run's own total), then each attempt's model time: the publish
 * retry costs no model time.
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
    PORT: '0', HOST: '127.0.0.1', QUEUE_PREFIX: prefix, FHIR_URL: fhir.baseUrl, DEBOUNCE_MS: '0', RECONCILE_INTERVAL_MS: '0', EXECUTION_PROVIDER: 'cpu', ALLOW_UNAUTHENTICATED: 'true',
    RETRY_FIRST_DELAY_MS: '1000', RETRY_MAX_DELAY_MS: '1000', DICOMWEB_ALLOWED_ORIGINS: new URL(orthanc.baseUrl).origin,
  }, { logger: createLogger({ level: 'warn' }) });
  try {
    const api = `http://127.0.0.1:${service.port}`;
    fhir.failNext(503, 1, (r) => r.method === 'POST' && r.url === '');
    const started = performance.now();
    const response = await fetch(`${api}/fhir/notify/ImagingStudy/${study.id}`, {
      method: 'PUT', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'ImagingStudy', id: study.id, status: 'available' }),
    });
    const ackMs = performance.now() - started;
    const { jobs } = (await response.json()) as { jobs: { jobId: string }[] };
    const run = await waitForRun(api, jobs[0]!.jobId, undefined, 36_000);
    const totalMs = performance.now() - started;
    if (run.state !== 'completed') throw new Error(`run ended ${run.state}: ${run.errorCode}`);
    console.log(`64-slice CT (512x512, 16-bit), tiny bundle on CPU, default task profiles; first FHIR result write answered 503`);
    console.log(`notification answered in ${ackMs.toFixed(1)} ms; notification to report written: ${(totalMs / 1000).toFixed(2)} s`);
    console.log('step                  seconds   share of total');
    const steps: Record<string, number> = {};
    for (const attempt of run.attempts) {
      for (const [step, ms] of Object.entries(attempt.timingsMs ?? {})) steps[step] = (steps[step] ?? 0) + ms;
    }
    for (const [step, ms] of Object.entries(steps)) {
      console.log(`${step.padEnd(20)} ${(ms / 1000).toFixed(3).padStart(8)}   ${((100 * ms) / totalMs).toFixed(1).padStart(5)} %`);
    }
    console.log('\nattempt               outcome     wall s   model ms   engine calls');
    for (const attempt of run.attempts) {
      const label = `${attempt.stage} #${attempt.attempt}`;
      console.log(`${label.padEnd(20)}  ${attempt.outcome.padEnd(10)} ${((attempt.durationMs ?? 0) / 1000).toFixed(3).padStart(7)}   ${String(attempt.timingsMs?.model ?? 0).padStart(8)}   ${String(attempt.engineCalls ?? 0).padStart(12)}`);
    }
    const retries = run.attempts.filter((a) => a.stage === 'publish').slice(1);
    const retryModelMs = retries.reduce((sum, a) => sum + (a.timingsMs?.model ?? 0), 0);
    console.log(`publish retries: ${retries.length}; their model time: ${retryModelMs} ms (ratio to the analysis's: ${(retryModelMs / (run.attempts[0]?.timingsMs?.model ?? 1)).toFixed(3)})`);
  } finally {
    await service.stop();
    await Promise.all([orthanc.stop(), fhir.stop()]);
    await cleanup();
  }
}
