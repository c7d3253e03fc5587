// The DICOMweb servers the service may use: one client (and one shared connection pool) per base URL,
// opened only for an allowed origin and given the credentials of that origin alone. Every retrieval and
// every STOW goes through `open`, so an address outside the list (from an Endpoint, plain, contained
// or on a series; or with a userinfo trick) is refused before a single byte leaves.
import { EndpointNotAllowedError } from '../../shared/errors.ts';
import { httpOriginOf } from '../../shared/http-origin.ts';
import type { AuditTrail } from '../../shared/audit-record.ts';
import type { Logger } from '../../shared/logger.ts';
import type { DicomwebAuth } from './auth-header.ts';
import { createDicomwebAgent } from './dicomweb-agent.ts';
import { createDicomwebClient, type DicomwebClient } from './dicomweb-client.ts';

export interface DicomwebServersOptions {
  /** Normalized origins (shared/http-origin.ts). */
  allowedOrigins: readonly string[];
  /** Credentials by normalized origin. */
  credentials?: ReadonlyMap<string, DicomwebAuth>;
  /** Extra CA certificates (PEM) for https: servers. */
  extraCa?: string;
  logger?: Pick<Logger, 'debug' | 'warn'>;
  /** Given to every client (README "Audit"). */
  audit?: AuditTrail;
}

export interface DicomwebServers {
  /** The client for a DICOMweb base; throws EndpointNotAllowedError for an origin outside the list. */
  (baseUrl: string): DicomwebClient;
  /** Whether `open` would accept the base. */
  allows(baseUrl: string): boolean;
  closeAll(): Promise<void>;
}

// Clients hold no connections of their own (they share the agent), so the cache only saves re-creating
// them; it is capped because Endpoint paths on an allowed origin are chosen by whoever writes Endpoints.
const MAX_CACHED_CLIENTS = 64;

export function createDicomwebServers(options: DicomwebServersOptions): DicomwebServers {
  const allowed = new Set(options.allowedOrigins);
  const agent = createDicomwebAgent(options.extraCa ? { extraCa: options.extraCa } : {});
  const clients = new Map<string, DicomwebClient>();
  const originOf = (baseUrl: string): string | undefined => {
    const origin = httpOriginOf(baseUrl);
    return origin !== undefined && allowed.has(origin) ? origin : undefined;
  };
  const open = (baseUrl: string): DicomwebClient => {
    let client = clients.get(baseUrl);
    if (client) return client;
    const origin = originOf(baseUrl);
    if (origin === undefined) throw new EndpointNotAllowedError();
    const auth = options.credentials?.get(origin);
    client = createDicomwebClient({ baseUrl, dispatcher: agent, ...(options.logger ? { logger: options.logger } : {}), ...(auth ? { auth } : {}), ...(options.audit ? { audit: options.audit } : {}) });
    if (clients.size >= MAX_CACHED_CLIENTS) clients.delete(clients.keys().next().value!);
    clients.set(baseUrl, client);
    return client;
  };
  return Object.assign(open, {
    allows: (baseUrl: string) => originOf(baseUrl) !== undefined,
    async closeAll() {
      await Promise.all([...clients.values()].map((client) => client.close()));
      await agent.close();
    },
  });
}
