import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StructureDefinition, Task } from '@medplum/fhirtypes';
import { createFhirClient } from '../../src/fhir/fhir-client.ts';
import { installProfiles } from '../../src/fhir/install-profiles.ts';
import { DEFAULT_PROFILE_BASE, PROFILE_IDS, PROFILE_URLS } from '../../src/fhir/profile-urls.ts';
import { markTaskInProgress } from '../../src/fhir/task-status.ts';
import { startService } from '../../src/main.ts';
import { startFhirServer, type FhirTestServer } from '../support/fhir-server.ts';
import { openTestRedis } from '../support/redis.ts';

const run = promisify(execFile);

describe('our StructureDefinitions on the FHIR server', () => {
  let server: FhirTestServer;
  beforeAll(async () => {
    server = await startFhirServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('profile URLs are https canonicals under the project base', () => {
    for (const [type, url] of Object.entries(PROFILE_URLS)) {
      expect(url).toBe(`${DEFAULT_PROFILE_BASE}/StructureDefinition/${PROFILE_IDS[type as keyof typeof PROFILE_IDS]}`);
      expect(new URL(url).protocol).toBe('https:');
    }
  });

  it('install-profiles creates each one once; a second run writes nothing', async () => {
    const client = createFhirClient({ baseUrl: server.baseUrl });
    const first = await installProfiles(client);
    expect(first.map((p) => p.url).sort()).toEqual(Object.values(PROFILE_URLS).sort());
    const second = await installProfiles(client);
    expect(second).toEqual(first);
    const stored = await client.search<StructureDefinition>('StructureDefinition', { _count: '100' });
    expect(stored.map((sd) => sd.url).sort()).toEqual(Object.values(PROFILE_URLS).sort());
    expect(stored.every((sd) => (sd.snapshot?.element?.length ?? 0) > 0)).toBe(true);
  });

  it('under a configured FHIR_PROFILE_BASE both the profiles and the meta.profile we write use it', async () => {
    const base = 'https://fhir.hospital.example/ai';
    const client = createFhirClient({ baseUrl: server.baseUrl, profileBase: base });
    const installed = await installProfiles(client);
    expect(installed.map((p) => p.url).sort()).toEqual(Object.values(PROFILE_IDS).map((id) => `${base}/StructureDefinition/${id}`).sort());
    const task = await markTaskInProgress(client, { jobKey: 'b5e0c1f2-0000-5000-8000-000000000001', imagingStudyId: 'study-1' });
    expect(task.meta?.profile).toEqual([`${base}/StructureDefinition/${PROFILE_IDS.Task}`]);
    const sd = await client.search<StructureDefinition>('StructureDefinition', { url: task.meta!.profile![0]! });
    expect(sd).toHaveLength(1);
    expect((await client.read<Task>('Task', task.id))?.meta?.profile).toEqual(task.meta?.profile);
  });

  it('FHIR_INSTALL_PROFILES=true installs them at start-up, before the service listens', async () => {
    const startupServer = await startFhirServer();
    const redis = openTestRedis();
    const service = await startService('api', {
      PORT: '0', HOST: '127.0.0.1', QUEUE_PREFIX: redis.prefix, LOG_LEVEL: 'silent', RECONCILE_INTERVAL_MS: '0',
      FHIR_URL: startupServer.baseUrl, FHIR_INSTALL_PROFILES: 'true', ALLOW_UNAUTHENTICATED: 'true',
    });
    try {
      const stored = await createFhirClient({ baseUrl: startupServer.baseUrl }).search<StructureDefinition>('StructureDefinition', {});
      expect(stored.map((sd) => sd.url).sort()).toEqual(Object.values(PROFILE_URLS).sort());
    } finally {
      await service.stop();
      await redis.cleanup();
      await startupServer.stop();
    }
  });

  it('`unimedvl-plugin fhir install-profiles` installs them from the command line', async () => {
    const cliServer = await startFhirServer();
    try {
      const { stdout } = await run('node_modules/.bin/tsx', ['src/cli.ts', 'fhir', 'install-profiles'], {
        env: { ...process.env, FHIR_URL: cliServer.baseUrl, LOG_LEVEL: 'warn' }, timeout: 120_000,
      });
      expect(stdout.trim().split('\n')).toHaveLength(Object.keys(PROFILE_URLS).length);
      expect(cliServer.requests.filter((r) => r.method === 'POST' && r.status === 201)).toHaveLength(Object.keys(PROFILE_URLS).length);
    } finally {
      await cliServer.stop();
    }
  });
});
