import { describe, expect, it } from 'vitest';
import { interpretStowResponse, isTransientFailure } from '../../../src/dicom/dicomweb/stow-response.ts';
import { buildStowResponseBody } from '../../support/stow-fake-server.ts';

const sent = [{ sopInstanceUid: '1.2.3.1' }, { sopInstanceUid: '1.2.3.2' }, { sopInstanceUid: '1.2.3.3' }];

describe('interpretStowResponse', () => {
  it('reports each instance of a mixed answer with its warning or failure reason', () => {
    const body = buildStowResponseBody(
      [{ sopInstanceUid: '1.2.3.1' }, { sopInstanceUid: '1.2.3.3', warningReason: 0xb000 }],
      [{ sopInstanceUid: '1.2.3.2', failureReason: 0xa900 }],
    );
    const result = interpretStowResponse(202, body, sent);
    expect(result.instances).toEqual([
      { index: 0, sopInstanceUid: '1.2.3.1', outcome: 'stored', retryable: false },
      { index: 1, sopInstanceUid: '1.2.3.2', outcome: 'failed', failureReason: 'A900', retryable: false },
      { index: 2, sopInstanceUid: '1.2.3.3', outcome: 'stored-with-warning', warningReason: 'B000', retryable: false },
    ]);
    expect(result).toMatchObject({ httpStatus: 202, storedCount: 2, failedCount: 1, retryable: false });
  });

  it('treats A700 (out of resources) as retryable and a 409 as none stored', () => {
    const body = buildStowResponseBody([], sent.map((s) => ({ sopInstanceUid: s.sopInstanceUid, failureReason: 0xa700 })));
    const result = interpretStowResponse(409, body, sent);
    expect(result.failedCount).toBe(3);
    expect(result.instances.every((i) => i.failureReason === 'A700' && i.retryable)).toBe(true);
    expect(result.retryable).toBe(true);
  });

  it('is not retryable when one failure is permanent, even if another is transient', () => {
    const body = buildStowResponseBody([{ sopInstanceUid: '1.2.3.3' }], [
      { sopInstanceUid: '1.2.3.1', failureReason: 0xa700 }, { sopInstanceUid: '1.2.3.2', failureReason: 0x0122 },
    ]);
    const result = interpretStowResponse(202, body, sent);
    expect(result.instances.map((i) => [i.outcome, i.failureReason, i.retryable])).toEqual([
      ['failed', 'A700', true], ['failed', '0122', false], ['stored', undefined, false],
    ]);
    expect(result.retryable).toBe(false);
  });

  it('marks instances the server did not list as failed unless it answered a plain 200', () => {
    const body = buildStowResponseBody([{ sopInstanceUid: '1.2.3.1' }], []);
    // Orthanc: 400 for a valid + an invalid file, only the valid one listed.
    const mixed = interpretStowResponse(400, body, [{ sopInstanceUid: '1.2.3.1' }, { sopInstanceUid: undefined }]);
    expect(mixed.instances.map((i) => i.outcome)).toEqual(['stored', 'failed']);
    expect(mixed.instances[1]!.retryable).toBe(false);
    const plain = interpretStowResponse(200, undefined, sent);
    expect(plain.storedCount).toBe(3);
  });

  it('does not trust the status code alone: a 200 that lists a failure reports it', () => {
    const body = buildStowResponseBody([{ sopInstanceUid: '1.2.3.1' }], [{ sopInstanceUid: '1.2.3.2', failureReason: 0xc000 }]);
    const result = interpretStowResponse(200, body, sent.slice(0, 2));
    expect(result.instances.map((i) => i.outcome)).toEqual(['stored', 'failed']);
  });

  it('reads reasons sent as hex or decimal strings', () => {
    const body = {
      '00081198': { vr: 'SQ', Value: [
        { '00081155': { vr: 'UI', Value: ['1.2.3.1'] }, '00081197': { vr: 'US', Value: ['A700'] } },
        { '00081155': { vr: 'UI', Value: ['1.2.3.2'] }, '00081197': { vr: 'US', Value: ['43264'] } },
      ] },
    };
    const result = interpretStowResponse(409, body, sent.slice(0, 2));
    expect(result.instances.map((i) => i.failureReason)).toEqual(['A700', 'A900']);
  });
});

describe('isTransientFailure', () => {
  it('is true for the A7xx range only', () => {
    expect(['A700', 'A7FF'].map(isTransientFailure)).toEqual([true, true]);
    expect(['A900', 'C000', '0122', '0110', undefined].map(isTransientFailure)).toEqual([false, false, false, false, false]);
  });
});
