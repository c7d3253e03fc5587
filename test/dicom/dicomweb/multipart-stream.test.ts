// streamMultipart driven by a scripted dispatcher: the test plays undici's part (handler callbacks) so
// backpressure, draining, aborts and the stale-socket retry can be observed exactly.
import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { streamMultipart } from '../../../src/dicom/dicomweb/multipart-stream.ts';
import { MultipartInvalidError } from '../../../src/shared/errors.ts';

interface Handler {
  onRequestStart(controller: unknown): void;
  onResponseStart(controller: unknown, status: number, headers: Record<string, string>): void;
  onResponseData(controller: unknown, chunk: Buffer): void;
  onResponseEnd(controller: unknown, trailers: Record<string, string>): void;
  onResponseError(controller: unknown, error: Error): void;
}

class ScriptedDispatcher {
  handlers: Handler[] = [];
  events: string[] = [];
  controller = {
    pause: () => this.events.push('pause'),
    resume: () => this.events.push('resume'),
    abort: (reason: unknown) => this.events.push(`abort:${(reason as Error).name}`),
  };
  dispatch(_options: unknown, handler: Handler): boolean {
    this.handlers.push(handler);
    handler.onRequestStart(this.controller);
    return true;
  }
  get handler(): Handler {
    return this.handlers[this.handlers.length - 1]!;
  }
}

const BOUNDARY = 'bnd';
const part = (i: number) => Buffer.from(`${i === 0 ? '' : '\r\n'}--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\npart-${i}`);
const closing = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
const tick = () => new Promise((resolve) => setImmediate(resolve));

function start(dispatcher: ScriptedDispatcher, extra: Partial<Parameters<typeof streamMultipart>[0]> = {}) {
  return streamMultipart({
    dispatcher: dispatcher as unknown as Dispatcher,
    request: { origin: 'http://pacs', path: '/x', headers: {} },
    onHead: (status) => {
      if (status !== 200) throw new Error(`status ${status}`);
      return BOUNDARY;
    },
    maxQueuedParts: 4,
    ...extra,
  })[Symbol.asyncIterator]();
}

describe('streamMultipart', () => {
  it('pauses the socket when parts pile up and resumes once the consumer catches up', async () => {
    const dispatcher = new ScriptedDispatcher();
    const parts = start(dispatcher);
    const first = parts.next();
    await tick();
    const h = dispatcher.handler;
    h.onResponseStart(dispatcher.controller, 200, {});
    for (let i = 0; i < 6; i++) h.onResponseData(dispatcher.controller, part(i));
    // Parts 0-4 are complete (5 waits for the next delimiter): the 4th queued part paused the socket.
    expect(dispatcher.events).toEqual(['pause']);
    const seen = [(await first).value!, (await parts.next()).value!];
    expect(dispatcher.events).toEqual(['pause']);
    seen.push((await parts.next()).value!); // two left in the queue: resumed
    expect(dispatcher.events).toEqual(['pause', 'resume']);
    h.onResponseData(dispatcher.controller, closing);
    h.onResponseEnd(dispatcher.controller, {});
    for (let r = await parts.next(); !r.done; r = await parts.next()) seen.push(r.value);
    expect(seen.map((p) => Buffer.from(p.body).toString())).toEqual(['part-0', 'part-1', 'part-2', 'part-3', 'part-4', 'part-5']);
  });

  it('drains an error answer and then throws the error from onHead, without aborting', async () => {
    const dispatcher = new ScriptedDispatcher();
    const parts = start(dispatcher);
    const result = parts.next();
    await tick();
    dispatcher.handler.onResponseStart(dispatcher.controller, 404, {});
    dispatcher.handler.onResponseData(dispatcher.controller, Buffer.from('not found'));
    dispatcher.handler.onResponseEnd(dispatcher.controller, {});
    await expect(result).rejects.toThrow('status 404');
    expect(dispatcher.events.filter((e) => e.startsWith('abort'))).toEqual([]);
  });

  it('aborts on a malformed body and reports MultipartInvalidError', async () => {
    const dispatcher = new ScriptedDispatcher();
    const parts = start(dispatcher);
    const result = parts.next();
    await tick();
    dispatcher.handler.onResponseStart(dispatcher.controller, 200, {});
    dispatcher.handler.onResponseData(dispatcher.controller, Buffer.from(`--${BOUNDARY}\r\nbroken header\r\n\r\n`));
    await expect(result).rejects.toBeInstanceOf(MultipartInvalidError);
    expect(dispatcher.events).toContain('abort:MultipartInvalidError');
  });

  it('aborts the request when the consumer stops early', async () => {
    const dispatcher = new ScriptedDispatcher();
    const parts = start(dispatcher);
    const first = parts.next();
    await tick();
    dispatcher.handler.onResponseStart(dispatcher.controller, 200, {});
    dispatcher.handler.onResponseData(dispatcher.controller, Buffer.concat([part(0), part(1)]));
    expect((await first).value).toBeDefined();
    await parts.return(undefined);
    expect(dispatcher.events.some((e) => e.startsWith('abort'))).toBe(true);
  });

  it('re-sends once when the connection fails before any answer, and only once', async () => {
    const dispatcher = new ScriptedDispatcher();
    const stale = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    const parts = start(dispatcher, { retryOnStaleSocket: () => true });
    const result = parts.next();
    await tick();
    dispatcher.handler.onResponseError(dispatcher.controller, stale);
    expect(dispatcher.handlers).toHaveLength(2);
    dispatcher.handler.onResponseError(dispatcher.controller, stale);
    expect(dispatcher.handlers).toHaveLength(2);
    await expect(result).rejects.toBe(stale);
  });
});
