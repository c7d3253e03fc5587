// The connection pool for DICOMweb servers. Orthanc answers `Keep-Alive: timeout=1`; undici subtracts
// keepAliveTimeoutThreshold from the server's hint, so an idle connection is dropped by us 500 ms
// before the server would close it, while requests that follow each other closely still share it.
// (undici's default threshold of 2 s would turn every Orthanc connection into a one-shot.)
import { Agent } from 'undici';

export const KEEP_ALIVE_THRESHOLD_MS = 500;

export function createDicomwebAgent(overrides: Agent.Options = {}): Agent {
  return new Agent({
    keepAliveTimeout: 4_000,
    keepAliveTimeoutThreshold: KEEP_ALIVE_THRESHOLD_MS,
    headersTimeout: 120_000,
    bodyTimeout: 120_000,
    connections: 16,
    ...overrides,
  });
}
