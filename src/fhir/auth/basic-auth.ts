import type { FhirAuth } from './fhir-auth.ts';

/** HTTP Basic (RFC 7617, UTF-8 credentials). */
export function basicAuth(username: string, password: string): FhirAuth {
  const header = `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
  return { authorization: async () => header };
}
