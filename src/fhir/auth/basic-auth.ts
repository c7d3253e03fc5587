import { basicAuthorization } from '../../shared/basic-auth.ts';
import type { FhirAuth } from './fhir-auth.ts';

/** HTTP Basic (RFC 7617, UTF-8 credentials). */
export function basicAuth(username: string, password: string): FhirAuth {
  const header = basicAuthorization(username, password);
  return { authorization: async () => header };
}
