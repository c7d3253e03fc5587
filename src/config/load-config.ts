import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigInvalidError } from '../shared/errors.ts';
import { dicomwebTrust } from './dicomweb-trust.ts';
import { configSchema, type Config } from './schema.ts';

/**
 * Builds the one configuration from the environment, plus an optional `CONFIG_FILE` (YAML or JSON,
 * same keys) whose values the environment overrides. Errors name the keys, never their values.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const fromFile = env.CONFIG_FILE ? readConfigFile(env.CONFIG_FILE) : {};
  const merged: Record<string, unknown> = { ...fromFile };
  for (const key of Object.keys(configSchema.shape)) {
    if (env[key] !== undefined) merged[key] = env[key];
  }
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const keys = [...new Set(result.error.issues.map((issue) => String(issue.path[0] ?? '(root)')))].sort();
    throw new ConfigInvalidError(keys);
  }
  const config = result.data;
  if ((config.DICOMWEB_USERNAME === undefined) !== (config.DICOMWEB_PASSWORD === undefined)) {
    throw new ConfigInvalidError(['DICOMWEB_PASSWORD', 'DICOMWEB_USERNAME']);
  }
  if ((config.FHIR_USERNAME === undefined) !== (config.FHIR_PASSWORD === undefined)) {
    throw new ConfigInvalidError(['FHIR_PASSWORD', 'FHIR_USERNAME']);
  }
  const smart = [config.FHIR_SMART_TOKEN_URL, config.FHIR_SMART_CLIENT_ID, config.FHIR_SMART_PRIVATE_KEY_FILE];
  if (smart.some((v) => v !== undefined) && !smart.every((v) => v !== undefined)) {
    throw new ConfigInvalidError(['FHIR_SMART_CLIENT_ID', 'FHIR_SMART_PRIVATE_KEY_FILE', 'FHIR_SMART_TOKEN_URL']);
  }
  if (config.RESULTS_RELEASE === 'review' && !config.REVIEW_OWNER) throw new ConfigInvalidError(['REVIEW_OWNER']);
  dicomwebTrust(config); // throws ConfigInvalidError naming the key
  return Object.freeze(config);
}

function readConfigFile(path: string): Record<string, unknown> {
  try {
    const parsed: unknown = parseYaml(readFileSync(path, 'utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a mapping');
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, typeof v === 'object' ? v : String(v)]));
  } catch (cause) {
    throw new ConfigInvalidError(['CONFIG_FILE'], { cause });
  }
}
