// A tiny OAuth token endpoint for SMART Backend Services tests: it verifies the client assertion's
// signature with the registered public key and its claims, and hands out numbered tokens.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verify, type KeyObject } from 'node:crypto';

export interface TokenServer {
  tokenUrl: string;
  /** Tokens issued so far, in order. */
  issued: string[];
  /** Claims of every accepted assertion. */
  assertions: Array<Record<string, unknown>>;
  /** Reasons for every rejected request. */
  rejections: string[];
  /** The scopes a `Bearer <token>` header was granted; undefined for a token this server never issued. */
  scopesOf(authorization: string | undefined): string[] | undefined;
  stop(): Promise<void>;
}

export async function startTokenServer(options: {
  clientId: string; publicKey: KeyObject; algorithm: 'RS384' | 'ES384'; expiresIn?: number;
  /** What the server grants of the requested scopes (default: all of them). */
  grant?: (requested: string[]) => string[];
}): Promise<TokenServer> {
  const granted = new Map<string, string[]>();
  const issued: string[] = [];
  const assertions: Array<Record<string, unknown>> = [];
  const rejections: string[] = [];
  const seenJti = new Set<string>();
  let tokenUrl = '';

  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
    req.on('end', () => {
      const reject = (reason: string): void => {
        rejections.push(reason);
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_client' }));
      };
      const form = new URLSearchParams(raw);
      if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') return reject('content-type');
      if (form.get('grant_type') !== 'client_credentials') return reject('grant_type');
      if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return reject('assertion_type');
      const [header64, payload64, signature64] = (form.get('client_assertion') ?? '').split('.');
      if (!header64 || !payload64 || !signature64) return reject('shape');
      const header = JSON.parse(Buffer.from(header64, 'base64url').toString('utf8')) as Record<string, unknown>;
      const claims = JSON.parse(Buffer.from(payload64, 'base64url').toString('utf8')) as Record<string, unknown>;
      if (header.alg !== options.algorithm) return reject('alg');
      const signed = Buffer.from(`${header64}.${payload64}`);
      const signature = Buffer.from(signature64, 'base64url');
      const ok = options.algorithm === 'RS384'
        ? verify('sha384', signed, options.publicKey, signature)
        : verify('sha384', signed, { key: options.publicKey, dsaEncoding: 'ieee-p1363' }, signature);
      if (!ok) return reject('signature');
      const nowS = Math.floor(Date.now() / 1000);
      if (claims.iss !== options.clientId || claims.sub !== options.clientId) return reject('iss/sub');
      if (claims.aud !== tokenUrl) return reject('aud');
      if (typeof claims.exp !== 'number' || claims.exp <= nowS || claims.exp > nowS + 300) return reject('exp');
      if (typeof claims.jti !== 'string' || seenJti.has(claims.jti)) return reject('jti');
      seenJti.add(claims.jti);
      assertions.push({ ...claims, scope: form.get('scope') });
      const token = `token-${issued.length + 1}`;
      issued.push(token);
      const requested = (form.get('scope') ?? '').split(' ').filter(Boolean);
      const scopes = options.grant ? options.grant(requested) : requested;
      granted.set(token, scopes);
      res.writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ access_token: token, token_type: 'bearer', expires_in: options.expiresIn ?? 300, scope: scopes.join(' ') }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/token`;
  return {
    tokenUrl, issued, assertions, rejections,
    scopesOf: (authorization) => (authorization?.startsWith('Bearer ') ? granted.get(authorization.slice('Bearer '.length)) : undefined),
    stop: () => new Promise((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}
