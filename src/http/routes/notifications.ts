import { Router, type Request, type Response } from 'express';
import type { Logger } from '../../shared/logger.ts';
import { applyNotification, type ApplyNotificationDeps } from '../../triggers/fhir-notification/apply-notification.ts';
import { parseNotification, type NotificationRoute } from '../../triggers/fhir-notification/parse-notification.ts';
import type { ReplayWindow } from '../../triggers/fhir-notification/verify-signature.ts';
import type { components } from '../openapi-types.ts';
import { parseJsonBody, readRawBody } from '../request-body.ts';
import { getInput, type RequestValidator } from '../request-validator.ts';
import { requireWebhookSignature } from '../webhook-auth.ts';
import { jobLocation } from './studies.ts';

export interface NotificationRouteContext extends ApplyNotificationDeps {
  logger: Logger;
  validator: RequestValidator;
  bodyLimitBytes: number;
  webhookSecret: string | undefined;
  replayWindow?: ReplayWindow;
}

/**
 * FHIR rest-hook endpoints. They parse, de-duplicate and enqueue, then answer: 202 when work was
 * accepted (a job or a reconciliation search), 200 when there was nothing to do.
 */
export function notificationsRouter(ctx: NotificationRouteContext): Router {
  const router = Router();
  const intake = [readRawBody(ctx.bodyLimitBytes), requireWebhookSignature(ctx.webhookSecret, ctx.replayWindow)];

  const handle = (operationId: string, route: (res: Response) => NotificationRoute) =>
    async (req: Request, res: Response) => {
      const body = parseJsonBody(req);
      if (body !== undefined) ctx.validator.checkBody(operationId, body);
      const parsed = parseNotification(route(res), { headers: req.headers, body });
      const outcome = await applyNotification(parsed, ctx);
      ctx.logger.info(
        {
          style: parsed.style, type: parsed.type, subscription: parsed.subscription, studies: parsed.studies.length,
          jobs: outcome.jobs.length, ignored: outcome.ignoredEntries, outcome: outcome.outcome,
        },
        'notification handled',
      );
      const ack: components['schemas']['NotificationAck'] = {
        outcome: outcome.outcome,
        jobs: outcome.jobs.map(({ jobId, created, rerunScheduled }) => ({ jobId, created, rerunScheduled })),
        ignoredEntries: outcome.ignoredEntries,
        ...(outcome.reconciliation ? { reconciliation: outcome.reconciliation } : {}),
      };
      const accepted = outcome.outcome === 'enqueued' || outcome.outcome === 'reconciliation-requested';
      if (ack.jobs.length === 1) res.location(jobLocation(ack.jobs[0]!.jobId));
      res.status(accepted ? 202 : 200).json(ack);
    };

  const studyId = (res: Response) => String(getInput(res).params.id);
  router.post('/fhir/notify', ...intake, ctx.validator.parameters('postNotification'),
    handle('postNotification', () => ({ kind: 'notify' })));
  router.put('/fhir/notify/ImagingStudy/:id', ...intake, ctx.validator.parameters('putImagingStudyNotification'),
    handle('putImagingStudyNotification', (res) => ({ kind: 'resource-update', imagingStudyId: studyId(res) })));
  router.delete('/fhir/notify/ImagingStudy/:id', ...intake, ctx.validator.parameters('deleteImagingStudyNotification'),
    handle('deleteImagingStudyNotification', (res) => ({ kind: 'resource-delete', imagingStudyId: studyId(res) })));
  return router;
}
