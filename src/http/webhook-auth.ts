import type { RequestHandler } from 'express';
import { verifyWebhook } from '../triggers/fhir-notification/verify-signature.ts';
import { rawBodyOf } from './request-body.ts';

/** Webhook routes: X-Signature (or the secret as bearer) when WEBHOOK_SECRET is set; runs after readRawBody. */
export function requireWebhookSignature(secret: string | undefined): RequestHandler {
  return (req, _res, next) => {
    if (secret === undefined) return next();
    const signature = req.headers['x-signature'];
    verifyWebhook(
      {
        rawBody: rawBodyOf(req),
        ...(typeof signature === 'string' ? { signature } : {}),
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      },
      secret,
    );
    next();
  };
}
