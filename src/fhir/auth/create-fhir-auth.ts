import type { FhirAuth } from './fhir-auth.ts';
import { basicAuth } from './basic-auth.ts';
import { bearerAuth } from './bearer-auth.ts';
import { smartBackendAuth, type SmartSigningAlgorithm } from './smart-backend-auth.ts';

/** How to authenticate to the FHIR server, as main.ts reads it from configuration. */
export type FhirAuthSettings =
  | { kind: 'none' }
  | { kind: 'bearer'; token: string }
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'smart'; tokenUrl: string; clientId: string; privateKeyPem: string; algorithm: SmartSigningAlgorithm; keyId?: string; scopes: string[] };

export function createFhirAuth(settings: FhirAuthSettings, deps: { fetch?: typeof fetch } = {}): FhirAuth | undefined {
  switch (settings.kind) {
    case 'none':
      return undefined;
    case 'bearer':
      return bearerAuth(settings.token);
    case 'basic':
      return basicAuth(settings.username, settings.password);
    case 'smart':
      return smartBackendAuth({
        tokenUrl: settings.tokenUrl,
        clientId: settings.clientId,
        privateKey: settings.privateKeyPem,
        algorithm: settings.algorithm,
        scopes: settings.scopes,
        ...(settings.keyId ? { keyId: settings.keyId } : {}),
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
      });
  }
}
