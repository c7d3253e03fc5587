import type { ErrorObject, ValidateFunction } from 'ajv';
import type { RequestHandler, Response } from 'express';
import { RequestInvalidError } from '../shared/errors.ts';
import type { OpenApiDocument } from './openapi-document.ts';
import { createOpenApiAjv, resolveLocalRef, rewriteRefs } from './openapi-schemas.ts';

/** Path and query values after validation, coercion and defaults (express 5 re-parses req.query on each read). */
export interface ValidatedInput {
  params: Record<string, unknown>;
  query: Record<string, unknown>;
}

export interface RequestValidator {
  /** Middleware checking the operation's path, query and header parameters; results in res.locals.input. */
  parameters(operationId: string): RequestHandler;
  /** Throws RequestInvalidError when a JSON body does not match the operation's request body schema. */
  checkBody(operationId: string, body: unknown): void;
}

interface Operation {
  pathItem: Record<string, unknown>;
  operation: Record<string, unknown>;
}

type Location = 'path' | 'query' | 'header';

/** Request validation straight from the contract: what the spec says is what the app accepts. */
export function createRequestValidator(document: OpenApiDocument): RequestValidator {
  const coercing = createOpenApiAjv(document, { coerceTypes: true });
  const strict = createOpenApiAjv(document);
  const bodyValidators = new Map<string, ValidateFunction | null>();

  return {
    parameters(operationId) {
      const { pathItem, operation } = findOperation(document, operationId);
      const declared = [...asArray(pathItem.parameters), ...asArray(operation.parameters)].map((p) => resolveLocalRef(document, p));
      const compile = (location: Location) => coercing.compile(parameterSchema(declared, location));
      const validators = { path: compile('path'), query: compile('query'), header: compile('header') };
      const integers = integerParameters(declared);
      return (req, res, next) => {
        const params: Record<string, unknown> = { ...req.params };
        const query: Record<string, unknown> = { ...(req.query as Record<string, unknown>) };
        const headers: Record<string, unknown> = { ...req.headers };
        for (const [location, value] of [['path', params], ['query', query], ['header', headers]] as const) {
          const notDecimal = integers[location].find((name) => typeof value[name] === 'string' && !DECIMAL_INTEGER.test(value[name]));
          if (notDecimal !== undefined) {
            next(new RequestInvalidError({ detail: `${location}/${notDecimal} must be a decimal integer` }));
            return;
          }
          if (!validators[location](value)) {
            next(new RequestInvalidError({ detail: describe(location, validators[location].errors) }));
            return;
          }
        }
        setInput(res, { params, query });
        next();
      };
    },
    checkBody(operationId, body) {
      if (!bodyValidators.has(operationId)) {
        const { operation } = findOperation(document, operationId);
        const requestBody = resolveLocalRef(document, operation.requestBody);
        const content = requestBody?.content as Record<string, { schema?: unknown }> | undefined;
        const schema = content?.['application/fhir+json']?.schema ?? content?.['application/json']?.schema;
        bodyValidators.set(operationId, schema ? strict.compile(rewriteRefs(schema) as object) : null);
      }
      const validate = bodyValidators.get(operationId);
      if (validate && !validate(body)) throw new RequestInvalidError({ detail: describe('body', validate.errors) });
    },
  };
}

export function getInput(res: Response): ValidatedInput {
  return (res.locals.input as ValidatedInput | undefined) ?? { params: {}, query: {} };
}

function setInput(res: Response, input: ValidatedInput): void {
  res.locals.input = input;
}

function findOperation(document: OpenApiDocument, operationId: string): Operation {
  for (const pathItem of Object.values(document.paths)) {
    for (const value of Object.values(pathItem)) {
      const operation = value as Record<string, unknown>;
      if (operation?.operationId === operationId) return { pathItem, operation };
    }
  }
  throw new Error(`operationId ${operationId} is not in the OpenAPI document`);
}

/**
 * ajv's coercion reads a string as JavaScript does, so `0x10` became 16 and `1e400` Infinity (past any
 * maximum). Integer parameters are taken only as plain decimals; the contract's bounds then apply.
 */
const DECIMAL_INTEGER = /^-?\d{1,16}$/;

function integerParameters(parameters: Record<string, unknown>[]): Record<Location, string[]> {
  const names = (location: Location) => parameters
    .filter((p) => p.in === location && (p.schema as { type?: unknown } | undefined)?.type === 'integer')
    .map((p) => (location === 'header' ? String(p.name).toLowerCase() : String(p.name)));
  return { path: names('path'), query: names('query'), header: names('header') };
}

/** One object schema per location; header names are compared in lower case, as Node gives them. */
function parameterSchema(parameters: Record<string, unknown>[], location: Location): object {
  const here = parameters.filter((p) => p.in === location);
  const name = (p: Record<string, unknown>) => (location === 'header' ? String(p.name).toLowerCase() : String(p.name));
  return {
    type: 'object',
    properties: Object.fromEntries(here.map((p) => [name(p), rewriteRefs(p.schema ?? {})])),
    required: here.filter((p) => p.required === true).map(name),
    // Where an operation declares query parameters, unknown ones are refused (typos surface). Elsewhere
    // they pass: webhook URLs sometimes carry a sender-side token in the query string.
    additionalProperties: location === 'query' && here.length > 0 ? false : true,
  };
}

/**
 * ajv's location and keyword message come from the schema, never from the request's values; the one
 * request-chosen part, an unknown parameter's name, is kept only when it looks like a plain name.
 */
function describe(location: string, errors: ErrorObject[] | null | undefined): string {
  const error = errors?.[0];
  if (!error) return location;
  const unknownName = error.keyword === 'additionalProperties' ? String(error.params.additionalProperty) : '';
  // A body path and its unknown keys are the sender's own data: keep them out of the answer.
  const property = location !== 'body' && /^[A-Za-z0-9_.-]{1,40}$/.test(unknownName) ? `/${unknownName}` : '';
  const path = location === 'body' ? '' : error.instancePath;
  return `${location}${path}${property} ${error.message ?? 'is invalid'}`.slice(0, 200);
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
