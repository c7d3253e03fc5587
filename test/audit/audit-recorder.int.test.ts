import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '@medplum/fhirtypes';
import { createAuditRecorder } from '../../src/audit/audit-recorder.ts';
import { fhirAuditSink, fileAuditSink } from '../../src/audit/audit-sinks.ts';
import { createFhirClient } from '../../src/fhir/fhir-client.ts';
import { createResourceValidator } from '../../src/fhir/validate-resource.ts';
import { withAuditRun } from '../../src/shared/audit-run-context.ts';
import type { AuditRecord } from '../../src/shared/audit-record.ts';
import { startFhirServer, type FhirTestServer } from '../support/fhir-server.ts';
import { openTestRedis } from '../support/redis.ts';

const logger = { warn: () => {}, info: () => {} };
const read = (n: number): AuditRecord => ({
  kind: 'fhir-read', recorded: new Date().toISOString(), outcome: 'success', server: 'http://fhir:1', interaction: 'read',
  resources: [`ImagingStudy/${n}`], patientReference: 'Patient/p1',
});

describe('audit recorder', () => {
  let fhir: FhirTestServer;
  const test = openTestRedis();
  beforeAll(async () => { fhir = await startFhirServer(); });
  afterEach(() => fhir.restore());
  afterAll(async () => { await fhir.stop(); await test.cleanup(); });

  it('writes JSON lines to the file sink, stamping the run id of the enclosing run', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'audit-')), 'audit.jsonl');
    const recorder = createAuditRecorder({
      redis: test.redis, prefix: `${test.prefix}-file`, sink: fileAuditSink(file), source: { id: 'svc' }, logger, batchSize: 2, flushIntervalMs: 1000,
    });
    withAuditRun('run-9-ff', () => { for (let i = 0; i < 5; i++) recorder.record(read(i)); });
    await expect.poll(() => recorder.pending()).toBe(5);
    expect(await recorder.flush()).toBe(5);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as AuditEvent);
    expect(lines.map((e) => e.entity?.find((x) => x.what?.reference?.startsWith('ImagingStudy/'))?.what?.reference))
      .toEqual(['ImagingStudy/0', 'ImagingStudy/1', 'ImagingStudy/2', 'ImagingStudy/3', 'ImagingStudy/4']);
    expect(lines.every((e) => e.entity?.some((x) => x.what?.identifier?.value === 'run-9-ff'))).toBe(true);
    expect(await recorder.pending()).toBe(0);
  });

  it('keeps events buffered while the FHIR server is down, counts failures, delivers after recovery', async () => {
    const registry = new Registry();
    const client = createFhirClient({ baseUrl: fhir.baseUrl });
    const recorder = createAuditRecorder({
      redis: test.redis, prefix: `${test.prefix}-fhir`, sink: fhirAuditSink(client), source: { id: 'svc' }, logger, batchSize: 3, flushIntervalMs: 1000, registry,
    });
    for (let i = 0; i < 4; i++) recorder.record(read(i));
    await expect.poll(() => recorder.pending()).toBe(4);
    fhir.failWhile(503);
    expect(await recorder.flush()).toBe(0);
    expect(recorder.failing()).toBe(true);
    expect(await recorder.pending()).toBe(4);
    const failures = await registry.getSingleMetric('unimedvl_audit_delivery_failures_total')!.get();
    expect(failures.values[0]!.value).toBe(1);
    fhir.restore();
    expect(await recorder.flush()).toBe(4);
    expect(recorder.failing()).toBe(false);
    const stored = await client.search<AuditEvent>('AuditEvent', { _count: '100' });
    expect(stored).toHaveLength(4);
    const validator = createResourceValidator();
    for (const event of stored) expect(validator.check(event)).toEqual([]);
    const pending = await registry.getSingleMetric('unimedvl_audit_pending')!.get();
    expect(pending.values[0]!.value).toBe(0);
  });

  it('retries only the events the server refused: the accepted ones of the batch are not created twice', async () => {
    const registry = new Registry();
    const client = createFhirClient({ baseUrl: fhir.baseUrl });
    const recorder = createAuditRecorder({
      redis: test.redis, prefix: `${test.prefix}-partial`, sink: fhirAuditSink(client), source: { id: 'svc' }, logger, batchSize: 10, flushIntervalMs: 1000, registry,
    });
    for (let i = 10; i < 14; i++) recorder.record(read(i));
    await expect.poll(() => recorder.pending()).toBe(4);
    const studyOf = (e: AuditEvent) => e.entity?.find((x) => x.what?.reference?.startsWith('ImagingStudy/'))?.what?.reference;
    fhir.rejectWrites((r) => r.resourceType === 'AuditEvent' && studyOf(r as AuditEvent) === 'ImagingStudy/11');
    await recorder.flush();
    expect(recorder.failing()).toBe(true);
    expect(await recorder.pending()).toBe(1);
    const failures = await registry.getSingleMetric('unimedvl_audit_delivery_failures_total')!.get();
    expect(failures.values[0]!.value).toBe(1);
    const stored = async () => (await client.search<AuditEvent>('AuditEvent', { _count: '100' })).map(studyOf).filter((s) => ['10', '11', '12', '13'].some((n) => s === `ImagingStudy/${n}`)).sort();
    expect(await stored()).toEqual(['ImagingStudy/10', 'ImagingStudy/12', 'ImagingStudy/13']);
    fhir.restore();
    recorder.record(read(14));
    await expect.poll(() => recorder.pending()).toBe(2);
    expect(await recorder.flush()).toBe(2);
    expect(await stored()).toEqual(['ImagingStudy/10', 'ImagingStudy/11', 'ImagingStudy/12', 'ImagingStudy/13']);
    expect(await recorder.pending()).toBe(0);
  });

  it('a flusher whose lock ran out during a delivery trims nothing: records recorded since are not lost', async () => {
    const prefix = `${test.prefix}-lock`;
    const file = join(mkdtempSync(join(tmpdir(), 'audit-')), 'audit.jsonl');
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    let entered!: () => void;
    const delivering = new Promise<void>((resolve) => { entered = resolve; });
    const slow = { async deliver() { entered(); await held; return []; } };
    const options = { redis: test.redis, prefix, source: { id: 'svc' }, logger, batchSize: 10, flushIntervalMs: 1000 };
    const a = createAuditRecorder({ ...options, sink: slow });
    const b = createAuditRecorder({ ...options, sink: fileAuditSink(file) });
    for (let i = 20; i < 24; i++) a.record(read(i));
    await expect.poll(() => a.pending()).toBe(4);
    const first = a.flush();
    await delivering;
    // A's lock expires (as after a delivery longer than its lock): B takes over and delivers all four.
    await test.redis.del(`${prefix}:audit:flush-lock`);
    expect(await b.flush()).toBe(4);
    for (let i = 24; i < 26; i++) b.record(read(i));
    await expect.poll(() => b.pending()).toBe(2);
    release();
    expect(await first).toBe(0);
    expect(await a.pending()).toBe(2);
    expect(await b.flush()).toBe(2);
    const delivered = readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as AuditEvent).entity?.find((x) => x.what?.reference?.startsWith('ImagingStudy/'))?.what?.reference);
    expect(delivered).toEqual(['ImagingStudy/20', 'ImagingStudy/21', 'ImagingStudy/22', 'ImagingStudy/23', 'ImagingStudy/24', 'ImagingStudy/25']);
  });
});
