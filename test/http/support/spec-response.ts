import type { Response } from 'supertest';
import { expect } from 'vitest';
import { loadOpenApiDocument, type OpenApiDocument } from '../../../src/http/openapi-document.ts';
import { createOpenApiAjv, resolveLocalRef, rewriteRefs } from '../../../src/http/openapi-schemas.ts';

export const document: OpenApiDocument = loadOpenApiDocument();
const ajv = createOpenApiAjv(document);

/**
 * Asserts that a response is one the contract declares for this operation: the status is listed, the
 * media type matches and the body validates against the declared schema.
 */
export function expectMatchesSpec(res: Response, path: string, method: string): void {
  const operation = resolveLocalRef(document, document.paths[path]?.[method]);
  expect(operation, `${method.toUpperCase()} ${path} is in the contract`).toBeTruthy();
  const responses = operation.responses as Record<string, unknown>;
  const declared = resolveLocalRef(document, responses[String(res.status)]);
  expect(declared, `status ${res.status} is declared for ${method.toUpperCase()} ${path}`).toBeTruthy();
  const content = declared.content as Record<string, { schema: unknown }> | undefined;
  if (!content) return;
  const mediaType = String(res.headers['content-type']).split(';')[0]!.trim();
  expect(Object.keys(content)).toContain(mediaType);
  const schema = content[mediaType]!.schema;
  const body = mediaType === 'text/plain' ? res.text : res.body;
  validate(schema, body);
  if (mediaType === 'application/fhir+json') expectOperationOutcome(res);
}

/** The error shape every route shares (also for requests that match no route). */
export function expectOperationOutcome(res: Response, code?: string): void {
  expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
  validate({ $ref: '#/components/schemas/OperationOutcome' }, res.body);
  const issue = res.body.issue[0];
  expect(issue.severity).toBe('error');
  if (code) expect(issue.details.coding[0].code).toBe(code);
}

function validate(schema: unknown, body: unknown): void {
  const check = ajv.compile(rewriteRefs(schema) as object);
  const ok = check(body);
  expect(ok ? [] : check.errors).toEqual([]);
}
