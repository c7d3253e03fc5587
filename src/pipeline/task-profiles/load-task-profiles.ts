import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigInvalidError } from '../../shared/errors.ts';
import { DEFAULT_TASK_PROFILES } from './default-task-profiles.ts';
import { taskProfilesSchema, type TaskProfiles } from './task-profile-schema.ts';

const CONFIG_KEY = 'TASK_PROFILES_FILE';

/** The error names the config key only; `cause` keeps the reason (a file path, a schema path) for operators. */
function invalid(cause: unknown): ConfigInvalidError {
  return new ConfigInvalidError([CONFIG_KEY], { cause });
}

/** Where in the file the first schema problem is, e.g. "profiles.2.tasks.0.kind: Invalid input". */
function describeIssues(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}

/**
 * The task profiles: the built-in defaults without a path, else the YAML or JSON file at `path`
 * (YAML is a superset of JSON). Any problem (unreadable, unparsable, not matching the schema)
 * throws ConfigInvalidError(['TASK_PROFILES_FILE']); the result is deeply frozen.
 */
export function loadTaskProfiles(path?: string): TaskProfiles {
  if (path === undefined || path === '') return deepFreeze(structuredClone(DEFAULT_TASK_PROFILES));
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw invalid(cause);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: false });
  } catch (cause) {
    throw invalid(cause);
  }
  const parsed = taskProfilesSchema.safeParse(raw);
  if (!parsed.success) {
    throw invalid(new Error(`task profiles do not match the schema: ${describeIssues(parsed.error)}`));
  }
  return deepFreeze(parsed.data);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
