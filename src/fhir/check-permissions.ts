import { FhirPermissionMissingError } from '../shared/errors.ts';
import type { FhirClient } from './fhir-client.ts';
import { missingScopes, type InteractionOptions } from './fhir-interactions.ts';

/**
 * Readiness: may these credentials make every interaction the service makes (fhir-interactions.ts)?
 * With SMART the granted scopes say so; basic and static bearer credentials carry no scopes, so the
 * server's own answers (403 on a write) are the only check there.
 */
export async function checkFhirPermissions(client: FhirClient, options: InteractionOptions = {}): Promise<void> {
  const granted = await client.grantedScopes();
  if (!granted) return;
  const missing = missingScopes(granted, options);
  if (missing.length) throw new FhirPermissionMissingError(missing);
}
