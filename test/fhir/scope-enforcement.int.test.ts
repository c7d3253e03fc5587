// The FHIR side under SMART scopes, against the test server enforcing them per resource type as Medplum
// does: what a cut set of scopes breaks, and that /readyz names it before any run does.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Patient } from '@medplum/fhirtypes';
import { smartBackendAuth } from '../../src/fhir/auth/smart-backend-auth.ts';
import { checkFhirPermissions } from '../../src/fhir/check-permissions.ts';
import { createFhirClient } from '../../src/fhir/fhir-client.ts';
import { defaultSmartScopes } from '../../src/fhir/fhir-interactions.ts';
import { buildAiResultBundle } from '../../src/fhir/builders/build-result-bundle.ts';
import { markTaskInProgress } from '../../src/fhir/task-status.ts';
import { createResourceValidator } from '../../src/fhir/validate-resource.ts';
import { writeAiResults } from '../../src/fhir/write-results.ts';
import { startService, type RunningService } from '../../src/main.ts';
import { FhirPermissionMissingError, UpstreamHttpError } from '../../src/shared/errors.ts';
import { EXAMPLE_INPUT } from '../../fhir-profiles/build/examples.ts';
import { startFhirServer, type FhirTestServer } from '../support/fhir-server.ts';
import { openTestRedis } from '../support/redis.ts';
import { startTokenServer, type TokenServer } from './auth/smart-token-server.ts';

const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const withoutMedia = (scopes: string[]) => scopes.filter((s) => !s.startsWith('system/Media.'));

describe('SMART scopes enforced per resource type', () => {
  let tokens: TokenServer;
  let fhir: FhirTestServer;
  let work: string;
  /** What the token server grants: all requested scopes unless a test cuts them. */
  let grant: (requested: string[]) => string[] = (requested) => requested;
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'scopes-'));
    writeFileSync(join(work, 'key.pem'), keys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    tokens = await startTokenServer({ clientId: 'unimedvl', publicKey: keys.publicKey, algorithm: 'RS384', grant: (r) => grant(r) });
    fhir = await startFhirServer({ scopesOf: (header) => tokens.scopesOf(header) });
  });
  afterAll(async () => {
    await Promise.all([fhir.stop(), tokens.stop()]);
    rmSync(work, { recursive: true, force: true });
  });

  const clientWith = (scopes: string[]) => createFhirClient({
    baseUrl: fhir.baseUrl,
    auth: smartBackendAuth({ tokenUrl: tokens.tokenUrl, clientId: 'unimedvl', algorithm: 'RS384', scopes, privateKey: keys.privateKey }),
  });

  it('a profiled write without StructureDefinition read is refused with 403, as Medplum does; without a profile it passes', async () => {
    const client = clientWith(defaultSmartScopes().filter((s) => !s.startsWith('system/StructureDefinition.')));
    const error = await markTaskInProgress(client, { jobKey: '5c0e0000-0000-5000-8000-000000000001', imagingStudyId: 's1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamHttpError);
    expect((error as UpstreamHttpError).status).toBe(403);
    const plain = clientWith(['system/Patient.cs']);
    await expect(plain.createIfNoneExist<Patient>({ resourceType: 'Patient' }, 'identifier=urn:t|1')).resolves.toMatchObject({ resourceType: 'Patient' });
    await expect(plain.search('Task', {})).rejects.toMatchObject({ status: 403 });
    await expect(checkFhirPermissions(client)).rejects.toThrow(FhirPermissionMissingError);
  });

  it('with the default scopes the results and the Task are written; without Media scopes the transaction is refused', async () => {
    const validator = createResourceValidator();
    const input = { ...EXAMPLE_INPUT, jobKey: '5c0e0000-0000-5000-8000-000000000002' };
    await expect(writeAiResults({ client: clientWith(withoutMedia(defaultSmartScopes())), validator }, buildAiResultBundle(input))).rejects.toMatchObject({ status: 403 });
    const client = clientWith(defaultSmartScopes());
    await checkFhirPermissions(client);
    const written = await writeAiResults({ client, validator }, buildAiResultBundle(input));
    expect(written.diagnosticReportId).toBeTruthy();
    expect(Object.values(written.locations).some((l) => l.startsWith('Media/'))).toBe(true);
  });

  describe('/readyz', () => {
    let service: RunningService | undefined;
    let cleanup: (() => Promise<void>) | undefined;
    afterAll(async () => {
      await service?.stop();
      await cleanup?.();
    });

    async function readyz(env: Record<string, string>): Promise<{ status: number; body: { issue?: Array<{ diagnostics?: string }> } }> {
      await service?.stop();
      const redis = openTestRedis();
      await cleanup?.();
      cleanup = redis.cleanup;
      service = await startService('api', {
        PORT: '0', HOST: '127.0.0.1', QUEUE_PREFIX: redis.prefix, LOG_LEVEL: 'silent', FHIR_URL: fhir.baseUrl, RECONCILE_INTERVAL_MS: '0', ALLOW_UNAUTHENTICATED: 'true',
        FHIR_SMART_TOKEN_URL: tokens.tokenUrl, FHIR_SMART_CLIENT_ID: 'unimedvl', FHIR_SMART_PRIVATE_KEY_FILE: join(work, 'key.pem'), ...env,
      });
      const response = await fetch(`http://127.0.0.1:${service.port}/readyz`);
      return { status: response.status, body: await response.json() as never };
    }

    it('is ready with the default scopes', async () => {
      grant = (requested) => requested;
      expect((await readyz({})).status).toBe(200);
    });

    it('names the missing permission when the configured scopes are cut', async () => {
      // Auditing goes to the FHIR server by default, so AuditEvent create is among the scopes it needs.
      const { status, body } = await readyz({ FHIR_SMART_SCOPES: withoutMedia(defaultSmartScopes({ audit: true })).join(' ') });
      expect(status).toBe(503);
      expect(body.issue?.[0]?.diagnostics).toBe('fhir (missing system/Media.cruds)');
      const noAuditScope = await readyz({ FHIR_SMART_SCOPES: defaultSmartScopes().join(' ') });
      expect(noAuditScope.body.issue?.[0]?.diagnostics).toBe('fhir (missing system/AuditEvent.c)');
      // Audit written elsewhere: no AuditEvent scope needed.
      expect((await readyz({ FHIR_SMART_SCOPES: defaultSmartScopes().join(' '), AUDIT_SINK: 'none' })).status).toBe(200);
    });

    it('names the missing permission when the server grants less than asked', async () => {
      grant = (requested) => requested.filter((s) => !s.startsWith('system/StructureDefinition.') && !s.startsWith('system/Task.'));
      const { status, body } = await readyz({});
      expect(status).toBe(503);
      expect(body.issue?.[0]?.diagnostics).toBe('fhir (missing system/Task.cus system/StructureDefinition.rs)');
      grant = (requested) => requested;
    });
  });
});
