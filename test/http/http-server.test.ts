import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { createHttpServer, MAX_HEADER_BYTES } from '../../src/http/http-server.ts';
import { createTestDeps } from './support/fake-deps.ts';

let server: ReturnType<typeof createHttpServer>['server'];
let port: number;

beforeAll(async () => {
  ({ server } = createHttpServer(buildApp(createTestDeps({ env: { API_TOKEN: 'api-token-123' } }))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Sends raw bytes and reads until the server closes the connection. */
function exchange(raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.write(raw);
  });
}

function parse(answer: string): { status: number; headers: string; body: unknown } {
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), headers: head.toLowerCase(), body: JSON.parse(body) };
}

function codeOf(body: unknown): string | undefined {
  return (body as { issue?: { details?: { coding?: { code?: string }[] } }[] }).issue?.[0]?.details?.coding?.[0]?.code;
}

describe('errors Node answers before the app', () => {
  it('answers headers over the limit with 431 and an OperationOutcome', async () => {
    const answer = parse(await exchange(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(MAX_HEADER_BYTES + 1)}\r\n\r\n`));
    expect(answer.status).toBe(431);
    expect(answer.headers).toContain('content-type: application/fhir+json');
    expect(answer.headers).toContain('connection: close');
    expect(codeOf(answer.body)).toBe('HEADERS_TOO_LARGE');
  });

  it.each([
    ['a malformed request line', 'GET\r\n\r\n'],
    ['an unknown method token', 'BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a bad header line', 'GET /healthz HTTP/1.1\r\nHost x\r\n\r\n'],
    ['a control character in the path', 'GET /he\x01lthz HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['two content lengths', 'POST /fhir/notify HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'],
  ])('answers %s with 400 REQUEST_MALFORMED', async (_what, raw) => {
    const answer = parse(await exchange(raw));
    expect(answer.status).toBe(400);
    expect(codeOf(answer.body)).toBe('REQUEST_MALFORMED');
  });

  it('answers CONNECT (this is no proxy) with 404 and an Expect other than 100-continue with 417, both as OperationOutcomes', async () => {
    const connect = parse(await exchange('CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n'));
    expect(connect.status).toBe(404);
    expect(codeOf(connect.body)).toBe('ROUTE_NOT_FOUND');
    const expectation = parse(await exchange('POST /fhir/notify HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 0\r\n\r\n'));
    expect(expectation.status).toBe(417);
    expect(expectation.headers).toContain('content-type: application/fhir+json');
    expect(codeOf(expectation.body)).toBe('EXPECTATION_FAILED');
  });

  it('still answers a well-formed request on a fresh connection afterwards', async () => {
    await exchange('GET\r\n\r\n');
    const answer = await exchange('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
  });
});
