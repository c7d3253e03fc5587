import type { RequestHandler } from 'express';
import { UnauthorizedError } from '../shared/errors.ts';
import { secretsEqual } from '../triggers/fhir-notification/verify-signature.ts';

/** `Authorization: Bearer <API_TOKEN>`, compared in constant time; open when no token is configured. */
export function requireBearer(token: string | undefined): RequestHandler {
  return (req, _res, next) => {
    if (token === undefined) return next();
    const presented = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
    if (presented !== undefined && secretsEqual(presented, token)) return next();
    next(new UnauthorizedError());
  };
}
