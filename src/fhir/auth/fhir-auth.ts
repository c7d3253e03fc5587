/**
 * How the FHIR client authorizes its requests. `authorization()` gives the Authorization header value
 * for the next request; `invalidate()` is called once after a 401 so the next call fetches fresh
 * credentials (only token-based schemes can do anything about a 401).
 */
export interface FhirAuth {
  authorization(): Promise<string>;
  invalidate?(): void;
  /** Scopes the current token was granted (token-based schemes that know them: SMART). */
  grantedScopes?(): Promise<readonly string[]>;
}
