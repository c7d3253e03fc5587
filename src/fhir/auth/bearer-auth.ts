import type { FhirAuth } from './fhir-auth.ts';

/** A fixed bearer token (e.g. a long-lived service token). */
export function bearerAuth(token: string): FhirAuth {
  const header = `Bearer ${token}`;
  return { authorization: async () => header };
}
