import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { OpenApiDocument } from './openapi-document.ts';

// ajv-formats is CommonJS with a `default` export; under NodeNext the default import is module.exports.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

/** Base URI under which the document's component schemas are registered as `$defs`. */
export const OPENAPI_SCHEMA_ID = 'urn:unimedvl-plugin:openapi';
const COMPONENT_REF = '#/components/schemas/';

/**
 * An ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1) that knows every component schema, so
 * operation schemas can be compiled as they are written in the contract.
 */
export function createOpenApiAjv(document: OpenApiDocument, options: { coerceTypes?: boolean } = {}): Ajv2020 {
  const ajv = new Ajv2020({
    allErrors: false,
    strict: true,
    coerceTypes: options.coerceTypes ?? false,
    useDefaults: true,
  });
  addFormats(ajv);
  ajv.addKeyword({ keyword: 'example' });
  ajv.addSchema({ $id: OPENAPI_SCHEMA_ID, $defs: rewriteRefs(document.components.schemas) });
  return ajv;
}

/** `#/components/schemas/X` -> `urn:...openapi#/$defs/X`, so a schema compiled on its own resolves its refs. */
export function rewriteRefs<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map(rewriteRefs) as T;
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    out[key] = key === '$ref' && typeof value === 'string' && value.startsWith(COMPONENT_REF)
      ? `${OPENAPI_SCHEMA_ID}#/$defs/${value.slice(COMPONENT_REF.length)}`
      : rewriteRefs(value);
  }
  return out as T;
}

/** Follows a local `$ref` (`#/components/...`) inside the document; other values pass through. */
export function resolveLocalRef(document: OpenApiDocument, value: unknown): Record<string, unknown> {
  let current = value as Record<string, unknown>;
  for (let depth = 0; typeof current?.$ref === 'string' && depth < 10; depth += 1) {
    const path = (current.$ref as string).replace(/^#\//, '').split('/');
    current = path.reduce<unknown>((node, key) => (node as Record<string, unknown>)?.[key], document) as Record<string, unknown>;
  }
  return current;
}
