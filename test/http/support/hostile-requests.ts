// Seeded generator of hostile HTTP/1.1 requests, written as raw bytes (so malformed ones reach the
// server as sent). Every request asks for `Connection: close`, so one connection carries one exchange.
import { createHmac } from 'node:crypto';

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Credentials {
  apiToken: string;
  webhookSecret: string;
}

export interface HostileRequest {
  /** What was sent, for failure messages (bounded). */
  label: string;
  method: string;
  bytes: Buffer;
}

const UID = '1.2.826.0.1.3680043.8.498.10293847561';
const HUGE = '9'.repeat(40);

export function hostileRequests(seed: number, count: number, credentials: Credentials): HostileRequest[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const int = (max: number) => Math.floor(random() * max);

  const weirdStrings = [
    '', ' ', '%', '%zz', '%00', '%2e%2e%2f', '../../etc/passwd', '..%2F..%2F', 'é', '𝔘𝔫𝔦', '\u202etxt', 'a'.repeat(3000),
    HUGE, '-1', '0x10', '1e400', 'NaN', 'null', '{}', '[]', '<script>', "' OR 1=1 --", UID, `${UID}.`, 'run-1764000000000-0000000a',
    '%F0%9F%92%A9', '%C0%AF', '%ED%A0%80', '*', '~', '$', ';', '\\', '\ud800',
  ];
  // Half percent-encoded; half raw (non-ASCII then goes out as whatever latin1 makes of it), with only
  // white space and controls escaped so the request line stays one line.
  const enc = (s: string) => (random() < 0.5 ? encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '\ufffd')) : s.replace(/[^\x21-\x7e\u0080-\uffff]/g, (c) => encodeURIComponent(c)));
  const query = () => {
    const names = ['limit', 'offset', 'state', 'errorCode', 'modality', 'study', 'kind', 'from', 'to', 'x', 'limit[a]', '__proto__', 'constructor'];
    const values = [...weirdStrings, '500', '501', '0', '1', 'failed', 'dead-letter', 'CT', '2026-01-01T00:00:00Z', '9999-12-31T23:59:59Z'];
    const n = int(4);
    return n === 0 ? '' : `?${Array.from({ length: n }, () => `${enc(pick(names))}=${enc(pick(values))}`).join('&')}`;
  };
  const path = (): string => {
    const templates = [
      () => '/healthz', () => '/readyz', () => '/metrics', () => '/openapi.json', () => '/fhir/notify',
      () => `/fhir/notify/ImagingStudy/${enc(pick(weirdStrings))}`, () => '/fhir/notify/ImagingStudy/is-1',
      () => `/studies/${enc(pick([UID, ...weirdStrings]))}/analyze`, () => `/studies/${enc(pick([UID, ...weirdStrings]))}/runs`,
      () => '/jobs', () => '/jobs/retry', () => `/jobs/${enc(pick(weirdStrings))}`, () => `/jobs/${enc(pick(weirdStrings))}/retry`,
      () => `/${enc(pick(weirdStrings))}`, () => `//jobs`, () => '/jobs/', () => '/JOBS', () => `/jobs/${'a/'.repeat(200)}`,
      () => `/fhir/notify${'/x'.repeat(int(50))}`, () => '*', () => 'http://evil.example/jobs', () => `/${'%'.repeat(int(5))}`,
    ];
    return pick(templates)() + query();
  };
  const deepJson = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
  const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  const bodies = [
    () => '',
    () => '{}',
    () => '{"resourceType":"ImagingStudy","id":"is-1","meta":{"versionId":"1"}}',
    () => `{"resourceType":"ImagingStudy","id":"${pick(weirdStrings).replace(/["\\]/g, '')}"}`,
    () => '{"resourceType":"Bundle","type":"subscription-notification","entry":[{"resource":{"resourceType":"SubscriptionStatus","type":"event-notification","eventsSinceSubscriptionStart":"' + HUGE + '","notificationEvent":[{"eventNumber":"' + HUGE + '","focus":{"reference":"ImagingStudy/x"}}],"subscription":{"reference":"Subscription/s"}}}]}',
    () => '{"resourceType":"Bundle","type":"history","entry":' + JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ resource: { resourceType: 'ImagingStudy', id: `is-${i}` } }))) + '}',
    () => '{"errorCode":"UPSTREAM_HTTP_ERROR","limit":' + pick([HUGE, '1e400', '-1', '0', '1', '"5"', 'null']) + '}',
    () => deepJson(pick([100, 1000, 10_000, 100_000])),
    () => deepObject(pick([100, 1000, 10_000])),
    () => '{"a":' + HUGE + '}',
    () => '{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}',
    () => '\uFEFF{}',
    () => '{"resourceType":"ImagingStudy"',
    () => 'not json at all',
    () => Buffer.from(Array.from({ length: 64 }, () => int(256))).toString('latin1'),
    () => '"' + '\\u0000'.repeat(100) + '"',
    () => '{"s":"' + '𝔘'.repeat(1000) + '"}',
    () => 'x'.repeat(pick([10, 70_000, 2_000_000])),
  ];
  const contentTypes = [
    'application/fhir+json', 'application/json', 'application/json; charset=utf-16', 'application/fhir+json; charset="utf-8"',
    'text/plain', 'application/xml', 'multipart/form-data; boundary=x', '', 'application/json;;;', 'a'.repeat(500), 'application/json; charset=ébc',
  ];
  const methods = ['GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'CONNECT', 'BREW', 'get', 'G ET', ''];

  const out: HostileRequest[] = [];
  for (let i = 0; i < count; i += 1) {
    const kind = random();
    if (kind < 0.08) {
      // Not HTTP at all, or broken framing.
      const raw = pick([
        'GET\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', '\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 'GET /healthz HTTP/1.1\r\nHost x\r\n\r\n', '\x16\x03\x01\x02\x00\x01\x00',
        'POST /fhir/notify HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
        'POST /fhir/notify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
        'POST /fhir/notify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n',
        `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
        'GET /healthz HTTP/1.1\r\nHost: x\r\nX: \u0000\r\n\r\n',
      ]);
      out.push({ label: `raw ${JSON.stringify(raw.slice(0, 60))}`, method: 'RAW', bytes: Buffer.from(raw, 'latin1') });
      continue;
    }
    const method = pick(methods);
    const target = path();
    const body = method === 'GET' || method === 'HEAD' ? (random() < 0.1 ? pick(bodies)() : '') : pick(bodies)();
    const bodyBytes = Buffer.from(body, random() < 0.9 ? 'utf8' : 'latin1');
    const headers: string[] = ['Host: 127.0.0.1', 'Connection: close'];
    if (bodyBytes.length > 0 || random() < 0.3) headers.push(`Content-Length: ${bodyBytes.length}`);
    if (random() < 0.8) headers.push(`Content-Type: ${pick(contentTypes)}`);
    const auth = random();
    if (auth < 0.4) headers.push(`Authorization: Bearer ${credentials.apiToken}`);
    else if (auth < 0.5) headers.push(`Authorization: Bearer ${credentials.webhookSecret}`);
    else if (auth < 0.6) headers.push(`Authorization: ${pick(['Bearer', 'Basic Zm9vOmJhcg==', 'Bearer ' + 'x'.repeat(4000), 'Bearer é'])}`);
    const sign = random();
    if (sign < 0.35) headers.push(`X-Signature: ${createHmac('sha256', credentials.webhookSecret).update(bodyBytes).digest('hex')}`);
    else if (sign < 0.45) {
      const ts = pick([String(Math.floor(Date.now() / 1000)), '0', HUGE, '-5', 'soon']);
      headers.push(`X-Signature-Timestamp: ${ts}`);
      headers.push(`X-Signature: ${createHmac('sha256', credentials.webhookSecret).update(`${ts}.`).update(bodyBytes).digest('hex')}`);
    } else if (sign < 0.5) headers.push(`X-Signature: ${pick(['', 'zz', 'a'.repeat(64), 'A'.repeat(10_000)])}`);
    if (random() < 0.2) headers.push(`X-Medplum-Subscription: ${pick(weirdStrings).replace(/[\r\n]/g, '')}`);
    if (random() < 0.1) headers.push(`Content-Encoding: ${pick(['gzip', 'br', 'identity', 'x'])}`);
    if (random() < 0.05) headers.push(`Expect: ${pick(['100-continue', 'something-else'])}`);
    if (random() < 0.05) headers.push(`Upgrade: ${pick(['websocket', 'h2c'])}`, 'Connection: upgrade');
    if (random() < 0.05) headers.push(`X-Big: ${'b'.repeat(pick([1000, 8000, 17_000]))}`);
    if (random() < 0.05) for (let h = 0; h < 150; h += 1) headers.push(`X-Many-${h}: ${h}`);
    if (random() < 0.05) headers.push(`Accept: ${pick(['text/html', '*/*', 'application/fhir+xml', 'é'])}`);
    const head = `${method} ${target} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`;
    out.push({
      label: `${method} ${target.slice(0, 80)} body=${bodyBytes.length}B`,
      method,
      bytes: Buffer.concat([Buffer.from(head, 'latin1'), bodyBytes]),
    });
  }
  return out;
}
