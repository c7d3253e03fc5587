// Which DICOMweb servers the service may talk to, and with which credentials: DICOMWEB_URL's origin
// (with DICOMWEB_TOKEN or DICOMWEB_USERNAME/PASSWORD) plus DICOMWEB_ALLOWED_ORIGINS (each with its entry
// in DICOMWEB_ORIGIN_CREDENTIALS, if any). Everything else, an Endpoint included, is refused.
import { ConfigInvalidError } from '../shared/errors.ts';
import { httpOriginOf, parseConfiguredOrigin } from '../shared/http-origin.ts';
import type { Config } from './schema.ts';

export type OriginCredential = { type: 'bearer'; token: string } | { type: 'basic'; username: string; password: string };

export interface DicomwebTrust {
  /** Normalized origins (shared/http-origin.ts), DICOMWEB_URL's first when it is set. */
  allowedOrigins: string[];
  /** Credentials by normalized origin; an origin absent here gets none. */
  credentials: Map<string, OriginCredential>;
}

/** Reads the trust settings; a malformed origin or a credential for an origin not allowed names its key. */
export function dicomwebTrust(config: Config): DicomwebTrust {
  const allowedOrigins: string[] = [];
  const credentials = new Map<string, OriginCredential>();
  if (config.DICOMWEB_URL !== undefined) {
    const origin = httpOriginOf(config.DICOMWEB_URL);
    if (!origin) throw new ConfigInvalidError(['DICOMWEB_URL']);
    allowedOrigins.push(origin);
    if (config.DICOMWEB_TOKEN) credentials.set(origin, { type: 'bearer', token: config.DICOMWEB_TOKEN });
    else if (config.DICOMWEB_USERNAME !== undefined && config.DICOMWEB_PASSWORD !== undefined) {
      credentials.set(origin, { type: 'basic', username: config.DICOMWEB_USERNAME, password: config.DICOMWEB_PASSWORD });
    }
  }
  for (const entry of config.DICOMWEB_ALLOWED_ORIGINS) {
    const origin = parseConfiguredOrigin(entry);
    if (!origin) throw new ConfigInvalidError(['DICOMWEB_ALLOWED_ORIGINS']);
    if (!allowedOrigins.includes(origin)) allowedOrigins.push(origin);
  }
  for (const [entry, credential] of Object.entries(config.DICOMWEB_ORIGIN_CREDENTIALS ?? {})) {
    const origin = parseConfiguredOrigin(entry);
    // Only for an allowed origin, and never a second set for DICOMWEB_URL's (DICOMWEB_* already say it).
    if (!origin || !allowedOrigins.includes(origin) || credentials.has(origin)) throw new ConfigInvalidError(['DICOMWEB_ORIGIN_CREDENTIALS']);
    credentials.set(origin, 'token' in credential
      ? { type: 'bearer', token: credential.token }
      : { type: 'basic', username: credential.username, password: credential.password });
  }
  return { allowedOrigins, credentials };
}
