import { describe, expect, it } from 'vitest';
import { applyNotification, dedupKey } from '../../../src/triggers/fhir-notification/apply-notification.ts';
import { parseNotification } from '../../../src/triggers/fhir-notification/parse-notification.ts';
import { MemoryNotificationLog, RecordingEnqueue } from '../../http/support/fake-deps.ts';
import { FIXTURE_STUDY_UID, backportBundle, imagingStudy, resourceEntry, subscriptionStatusBundle } from './fixtures.ts';

function setup() {
  const enqueue = new RecordingEnqueue();
  const notifications = new MemoryNotificationLog();
  const reconciliations: string[] = [];
  const deps = { enqueueStudy: enqueue.enqueueStudy, notifications, requestReconciliation: (r: string) => reconciliations.push(r) };
  const apply = (body: unknown, headers: Record<string, string> = {}) =>
    applyNotification(parseNotification({ kind: 'notify' }, { headers, body }), deps);
  return { enqueue, notifications, reconciliations, apply };
}

describe('applyNotification', () => {
  it('enqueues a Medplum ImagingStudy once per (subscription, id, version)', async () => {
    const { enqueue, apply } = setup();
    const headers = { 'x-medplum-subscription': 'sub-1' };
    const first = await apply(imagingStudy('is-1', '3'), headers);
    const again = await apply(imagingStudy('is-1', '3'), headers);
    const next = await apply(imagingStudy('is-1', '4'), headers);
    expect(first).toMatchObject({ outcome: 'enqueued', jobs: [{ jobId: 'job-1', created: true }] });
    expect(again).toMatchObject({ outcome: 'duplicate', jobs: [], ignoredEntries: 1 });
    expect(next.outcome).toBe('enqueued');
    expect(enqueue.calls).toEqual([
      { study: { imagingStudyId: 'is-1', studyInstanceUid: FIXTURE_STUDY_UID }, trigger: 'fhir-notification' },
      { study: { imagingStudyId: 'is-1', studyInstanceUid: FIXTURE_STUDY_UID }, trigger: 'fhir-notification' },
    ]);
  });

  it('forgets a notification whose enqueue failed, so the sender\'s retry is not a duplicate', async () => {
    const { enqueue, notifications } = setup();
    const headers = { 'x-medplum-subscription': 'sub-1' };
    const failing = {
      enqueueStudy: async () => { throw new Error('redis down'); },
      notifications,
      requestReconciliation: () => undefined,
    };
    const parsed = parseNotification({ kind: 'notify' }, { headers, body: imagingStudy('is-9', '1') });
    await expect(applyNotification(parsed, failing)).rejects.toThrow('redis down');
    const retried = await applyNotification(parsed, { enqueueStudy: enqueue.enqueueStudy, notifications, requestReconciliation: () => undefined });
    expect(retried.outcome).toBe('enqueued');
  });

  it('requests reconciliation for an empty body and enqueues nothing', async () => {
    const { enqueue, reconciliations, apply } = setup();
    expect(await apply(undefined)).toMatchObject({ outcome: 'reconciliation-requested', reconciliation: 'empty-notification' });
    expect(reconciliations).toEqual(['empty-notification']);
    expect(enqueue.calls).toEqual([]);
  });

  it('records handshakes and heartbeats, and a heartbeat ahead of the last event is a gap', async () => {
    const { notifications, reconciliations, apply } = setup();
    await apply(subscriptionStatusBundle({ type: 'handshake' }));
    await apply(subscriptionStatusBundle({ events: [{ eventNumber: 1, focus: 'ImagingStudy/is-1' }] }));
    expect(await apply(subscriptionStatusBundle({ type: 'heartbeat', eventsSince: 1 }))).toMatchObject({ outcome: 'status-recorded' });
    expect(reconciliations).toEqual([]);
    expect(await apply(subscriptionStatusBundle({ type: 'heartbeat', eventsSince: 3 }))).toMatchObject({
      outcome: 'reconciliation-requested', reconciliation: 'event-gap',
    });
    expect(notifications.statuses).toEqual([
      { subscription: 'Subscription/r5-sub', type: 'handshake' },
      { subscription: 'Subscription/r5-sub', type: 'heartbeat' },
      { subscription: 'Subscription/r5-sub', type: 'heartbeat' },
    ]);
  });

  it('detects a gap in event numbers and still enqueues the event that arrived', async () => {
    const { enqueue, reconciliations, apply } = setup();
    await apply(backportBundle({ events: [{ eventNumber: 1, focus: 'ImagingStudy/is-1' }] }));
    await apply(backportBundle({ events: [{ eventNumber: 2, focus: 'ImagingStudy/is-2' }] }));
    expect(reconciliations).toEqual([]);
    const outcome = await apply(backportBundle({ events: [{ eventNumber: 5, focus: 'ImagingStudy/is-5' }] }));
    expect(outcome).toMatchObject({ outcome: 'enqueued', reconciliation: 'event-gap' });
    expect(reconciliations).toEqual(['event-gap']);
    expect(enqueue.calls.map((c) => c.study.imagingStudyId)).toEqual(['is-1', 'is-2', 'is-5']);
  });

  it('finds a gap inside one Bundle and counts events of other types for it', async () => {
    const { reconciliations, apply } = setup();
    await apply(backportBundle({ events: [{ eventNumber: 1, focus: 'Patient/p' }] }));
    await apply(backportBundle({ events: [{ eventNumber: 2, focus: 'Patient/p' }, { eventNumber: 3, focus: 'ImagingStudy/a' }] }));
    expect(reconciliations).toEqual([]);
    await apply(backportBundle({ events: [{ eventNumber: 4, focus: 'ImagingStudy/a' }, { eventNumber: 6, focus: 'ImagingStudy/b' }] }));
    expect(reconciliations).toEqual(['event-gap']);
  });

  it('does not treat query-event numbers as deliveries', async () => {
    const { reconciliations, apply } = setup();
    await apply(subscriptionStatusBundle({ events: [{ eventNumber: 10, focus: 'ImagingStudy/a' }] }));
    await apply(subscriptionStatusBundle({ type: 'query-event', events: [{ eventNumber: 2, focus: 'ImagingStudy/b' }] }));
    await apply(subscriptionStatusBundle({ events: [{ eventNumber: 11, focus: 'ImagingStudy/c' }] }));
    expect(reconciliations).toEqual([]);
  });

  it('asks for reconciliation when query-status shows more events than seen', async () => {
    const { reconciliations, apply } = setup();
    await apply(subscriptionStatusBundle({ events: [{ eventNumber: 1, focus: 'ImagingStudy/a' }] }));
    const outcome = await apply(subscriptionStatusBundle({ type: 'query-status', eventsSince: 4 }));
    expect(outcome).toMatchObject({ outcome: 'reconciliation-requested', reconciliation: 'query-status' });
    expect(reconciliations).toEqual(['query-status']);
  });

  it('enqueues nothing from a backport notification whose numbers are all at or below the highest seen', async () => {
    const { enqueue, reconciliations, apply } = setup();
    await apply(backportBundle({ events: [{ eventNumber: 4, focus: 'ImagingStudy/a' }, { eventNumber: 5, focus: 'ImagingStudy/b' }] }));
    // Replayed whole: duplicate, no search.
    expect(await apply(backportBundle({ events: [{ eventNumber: 4, focus: 'ImagingStudy/a' }, { eventNumber: 5, focus: 'ImagingStudy/b' }] })))
      .toMatchObject({ outcome: 'duplicate', jobs: [], ignoredEntries: 2 });
    expect(reconciliations).toEqual([]);
    // Counter went backwards with an event never seen: no job from it, a search of FHIR_URL instead.
    expect(await apply(backportBundle({ events: [{ eventNumber: 2, focus: 'ImagingStudy/c' }] })))
      .toMatchObject({ outcome: 'reconciliation-requested', reconciliation: 'event-behind', jobs: [], ignoredEntries: 1 });
    // One number above the mark is a delivery again.
    expect(await apply(backportBundle({ events: [{ eventNumber: 5, focus: 'ImagingStudy/b' }, { eventNumber: 6, focus: 'ImagingStudy/d' }] })))
      .toMatchObject({ outcome: 'enqueued' });
    expect(enqueue.calls.map((c) => c.study.imagingStudyId)).toEqual(['a', 'b', 'd']);
    expect(reconciliations).toEqual(['event-behind']);
  });

  it('treats a backwards eventsSinceSubscriptionStart without event numbers as a replay', async () => {
    const { enqueue, apply } = setup();
    await apply(subscriptionStatusBundle({ events: [{ eventNumber: 9, focus: 'ImagingStudy/a/_history/2' }] }));
    const body = subscriptionStatusBundle({ eventsSince: 5, events: [], entries: [resourceEntry(imagingStudy('b', '1'))] });
    expect((await apply(body)).jobs).toEqual([]);
    expect(enqueue.calls.map((c) => c.study.imagingStudyId)).toEqual(['a']);
  });

  it('acknowledges deletes without enqueueing', async () => {
    const { enqueue, apply } = setup();
    const outcome = await apply({}, { 'x-medplum-interaction': 'delete', 'x-medplum-deleted-resource': 'ImagingStudy/is-1' });
    expect(outcome).toMatchObject({ outcome: 'deleted', jobs: [] });
    expect(enqueue.calls).toEqual([]);
  });

  it('answers "ignored" when a Bundle only names other resource types', async () => {
    const { enqueue, apply } = setup();
    const outcome = await apply(subscriptionStatusBundle({
      events: [{ eventNumber: 1, focus: 'Patient/p1' }],
      entries: [resourceEntry({ resourceType: 'Patient', id: 'p1' })],
    }));
    expect(outcome).toMatchObject({ outcome: 'ignored', jobs: [], ignoredEntries: 1 });
    expect(enqueue.calls).toEqual([]);
  });

  it('enqueues one job per study when a Bundle names the same study twice', async () => {
    const { enqueue, apply } = setup();
    await apply(subscriptionStatusBundle({
      events: [{ eventNumber: 1, focus: 'ImagingStudy/a/_history/1' }, { eventNumber: 2, focus: 'ImagingStudy/a/_history/2' }],
    }));
    expect(enqueue.calls).toHaveLength(1);
  });
});

describe('dedupKey', () => {
  it('uses the version, else the event number, else nothing', () => {
    expect(dedupKey({ imagingStudyId: 'a', versionId: '2', eventNumber: 5 }, 'Subscription/s')).toBe('Subscription/s|ImagingStudy/a|v2');
    expect(dedupKey({ imagingStudyId: 'a', eventNumber: 5 }, undefined)).toBe('-|ImagingStudy/a|e5');
    expect(dedupKey({ imagingStudyId: 'a' }, 'Subscription/s')).toBeUndefined();
  });
});
