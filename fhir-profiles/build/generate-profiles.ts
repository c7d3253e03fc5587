// Writes fhir-profiles/*.json (StructureDefinitions with snapshots) and fhir-profiles/examples/*.json.
// Run: npx tsx fhir-profiles/build/generate-profiles.ts   (a test checks the files are up to date)
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProfile } from './snapshot.ts';
import { PROFILE_SOURCES } from './profile-sources.ts';
import { buildExamples } from './examples.ts';

export const PROFILES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

export function renderProfileFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const source of PROFILE_SOURCES) {
    files.set(`StructureDefinition-${source.id}.json`, `${JSON.stringify(buildProfile(source), null, 2)}\n`);
  }
  for (const [name, resource] of Object.entries(buildExamples())) {
    files.set(join('examples', `${name}.json`), `${JSON.stringify(resource, null, 2)}\n`);
  }
  return files;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [name, text] of renderProfileFiles()) {
    const path = join(PROFILES_DIR, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
}
