// Stores our StructureDefinitions on the FHIR server, so that the server can resolve the meta.profile of
// what we write (Medplum validates against a profile it knows). Conditional creates on `url`: running it
// again, or on every start-up (FHIR_INSTALL_PROFILES=true), writes nothing new.
import type { StructureDefinition } from '@medplum/fhirtypes';
import type { FhirClient } from './fhir-client.ts';
import { rebaseProfileUrl } from './profile-urls.ts';
import { loadProfiles } from './validate-resource.ts';

export interface InstalledProfile {
  url: string;
  /** `StructureDefinition/<id>` on the server. */
  reference: string;
}

export async function installProfiles(
  client: FhirClient,
  options: { profiles?: Map<string, StructureDefinition> } = {},
): Promise<InstalledProfile[]> {
  const base = client.profileBase;
  const installed: InstalledProfile[] = [];
  for (const profile of (options.profiles ?? loadProfiles()).values()) {
    const url = rebaseProfileUrl(profile.url!, base);
    // The server chooses the id; the client rebases `url` itself (see fhir-client profileBase).
    const { id: _fileId, meta: _meta, ...rest } = profile;
    const stored = await client.createIfNoneExist<StructureDefinition>(
      rest as StructureDefinition,
      `url=${encodeURIComponent(url)}`,
    );
    installed.push({ url, reference: `StructureDefinition/${stored.id}` });
  }
  return installed;
}
