import { loadConfig } from '../config/load-config.ts';
import { installProfiles } from '../fhir/install-profiles.ts';
import { fhirClientFromConfig } from '../main.ts';

const USAGE = 'usage: unimedvl-plugin fhir install-profiles   (stores our StructureDefinitions on FHIR_URL; needs StructureDefinition create scope)';

/** `fhir install-profiles`: conditional creates of our StructureDefinitions under FHIR_PROFILE_BASE. */
export async function runFhirCommand(args: string[]): Promise<number> {
  if (args[0] !== 'install-profiles' || args.length > 1) {
    console.error(USAGE);
    return 2;
  }
  const client = fhirClientFromConfig(loadConfig());
  if (!client) {
    console.error('unimedvl-plugin: FHIR_URL is not set');
    return 2;
  }
  for (const profile of await installProfiles(client)) console.log(`${profile.url} -> ${profile.reference}`);
  return 0;
}
