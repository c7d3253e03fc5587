// The connection pool for DICOMweb servers, the one HTTP stack for every DICOMweb request (QIDO, WADO,
// STOW; http: and https:). Orthanc answers `Keep-Alive: timeout=1`; undici subtracts
// keepAliveTimeoutThreshold from the server's hint, so an idle connection is dropped by us 500 ms
// before the server would close it, while requests that follow each other closely still share it.
// (undici's default threshold of 2 s would turn every Orthanc connection into a one-shot.)
// No pipelining: a WADO-RS answer is one long body, and a second request queued behind it on the same
// socket would wait for all of it; parallel requests get their own connections instead. The socket
// highWaterMark stays at undici's 64 KiB: 256 KiB and 1 MiB were no better in `npm run bench -- ingest`
// (INGEST_AGENT_OPTS; within the noise of a loaded 2-core machine).
// undici never follows redirects unless a redirect interceptor is added, and none is: a 3xx reaches
// the client as a status (dicomweb-errors.ts refuses it), so credentials never travel to a Location.
import { rootCertificates } from 'node:tls';
import { Agent } from 'undici';

export const KEEP_ALIVE_THRESHOLD_MS = 500;

export interface DicomwebAgentOptions extends Agent.Options {
  /** Extra CA certificates (PEM) trusted for https: servers, on top of Node's bundled roots. */
  extraCa?: string;
}

export function createDicomwebAgent(options: DicomwebAgentOptions = {}): Agent {
  const { extraCa, ...overrides } = options;
  return new Agent({
    keepAliveTimeout: 4_000,
    keepAliveTimeoutThreshold: KEEP_ALIVE_THRESHOLD_MS,
    headersTimeout: 120_000,
    bodyTimeout: 120_000,
    connections: 16,
    pipelining: 1,
    ...(extraCa ? { connect: { ca: [...rootCertificates, extraCa] } } : {}),
    ...overrides,
  });
}
