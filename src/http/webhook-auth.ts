import type { RequestHandler } from 'express';
import { verifyWebhook, type ReplayWindow } from '../triggers/fhir-notification/verify-signature.ts';
import { rawBodyOf } from './request-body.ts';

/** Webhook routes: X-Signature (or the secret as bearer) when WEBHOOK_SECRET is set; runs after readRawBody. */
export function requireWebhookSignature(secret: string | undefined, window?: ReplayWindow): RequestHandler {
  return (req, _res, next) => {
    if (secret === undefined) return next();
    const signature = req.headers['x-signature'];
    const timestamp = req.headers['x-signature-timestamp'];
    verifyWebhook(
      {
        rawBody: rawBodyOf(req),
        ...(typeof signature === 'string' ? { signature } : {}),
        ...(typeof timestamp === 'string' ? { timestamp } : {}),
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      },
      secret,
      window,
    );
    next();
  };
}
