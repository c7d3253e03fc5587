// A TLS-terminating forwarder in front of a plain-HTTP server (Orthanc), for https: retrieval tests: the
// certificate is self-signed, made with `openssl` when the proxy starts, for 127.0.0.1 and localhost.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { forwardRequest } from './forward-request.ts';

export interface TlsProxy {
  /** The target's base URL as seen through the proxy: https://127.0.0.1:<port><same path>. */
  baseUrl: string;
  /** The proxy's self-signed certificate (PEM), and the file holding it. */
  certificatePem: string;
  certificateFile: string;
  /** Requests forwarded so far. */
  forwarded(): number;
  stop(): Promise<void>;
}

export async function startTlsProxy(targetBaseUrl: string): Promise<TlsProxy> {
  const target = new URL(targetBaseUrl);
  const dir = mkdtempSync(path.join(tmpdir(), 'tls-proxy-'));
  const keyFile = path.join(dir, 'key.pem');
  const certificateFile = path.join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certificateFile, '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'ignore' });
  const certificatePem = readFileSync(certificateFile, 'utf8');
  let forwarded = 0;
  const server: Server = createServer({ key: readFileSync(keyFile), cert: certificatePem }, (req, res) => {
    forwarded += 1;
    forwardRequest(req, res, target);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `https://127.0.0.1:${port}${target.pathname.replace(/\/$/, '')}`,
    certificatePem,
    certificateFile,
    forwarded: () => forwarded,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => {
        rmSync(dir, { recursive: true, force: true });
        resolve();
      });
    }),
  };
}
