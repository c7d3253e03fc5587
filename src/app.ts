import express from 'express';
import { unauthenticatedWarnings } from './config/unauthenticated-surfaces.ts';
import type { AppDeps } from './http/app-deps.ts';
import { createErrorHandler, routeNotFound } from './http/error-handler.ts';
import { registerHttpMetrics } from './http/metrics.ts';
import { loadOpenApiDocument } from './http/openapi-document.ts';
import { createRequestValidator } from './http/request-validator.ts';
import { healthRouter } from './http/routes/health.ts';
import { jobsRouter } from './http/routes/jobs.ts';
import { metricsRouter } from './http/routes/metrics-route.ts';
import { notificationsRouter } from './http/routes/notifications.ts';
import { openApiRouter } from './http/routes/openapi-route.ts';
import { questionsRouter } from './http/routes/questions.ts';
import { qualityRouter } from './http/routes/quality.ts';
import { studiesRouter } from './http/routes/studies.ts';
import { consoleRouter } from './http/ui/console-router.ts';

/**
 * The HTTP surface described by openapi/openapi.yaml, without listen() (supertest drives it directly).
 * Open: /healthz, /readyz, /metrics, /openapi.json. Webhooks: WEBHOOK_SECRET signature when set.
 * API (/studies, /jobs): API_TOKEN bearer when set. A job id is a run id.
 */
export function buildApp(deps: AppDeps): express.Express {
  const document = loadOpenApiDocument();
  const validator = createRequestValidator(document);
  const { config } = deps;

  const app = express();
  app.disable('x-powered-by');
  app.use(registerHttpMetrics(deps.metrics, deps.runs, deps.logger).middleware);

  app.use(healthRouter(deps.readiness, {
    warnings: unauthenticatedWarnings(config), ...(deps.readinessWarnings ? { currentWarnings: deps.readinessWarnings } : {}),
  }));
  app.use(metricsRouter(deps.metrics));
  app.use(openApiRouter(document));
  app.use(notificationsRouter({
    logger: deps.logger,
    validator,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    webhookSecret: config.WEBHOOK_SECRET,
    replayWindow: { toleranceMs: config.WEBHOOK_TIMESTAMP_TOLERANCE_S * 1000, requireTimestamp: config.WEBHOOK_REQUIRE_TIMESTAMP },
    enqueueStudy: deps.enqueueStudy,
    notifications: deps.notifications,
    requestReconciliation: (reason) => deps.requestReconciliation(reason),
  }));
  app.use(questionsRouter({
    enqueueStudy: deps.enqueueStudy, apiToken: config.API_TOKEN, validator, bodyLimitBytes: config.BODY_LIMIT_BYTES,
    limits: { maxImages: config.MODEL_MAX_IMAGES, maxNewTokens: config.MODEL_MAX_NEW_TOKENS },
  }));
  app.use(studiesRouter({ enqueueStudy: deps.enqueueStudy, runs: deps.runs, apiToken: config.API_TOKEN, validator }));
  app.use(jobsRouter({ runs: deps.runs, runControl: deps.runControl, apiToken: config.API_TOKEN, validator, bodyLimitBytes: config.BODY_LIMIT_BYTES }));
  app.use(qualityRouter({ quality: deps.quality, apiToken: config.API_TOKEN }));

  app.use(consoleRouter({
    config, logger: deps.logger, runs: deps.runs, runControl: deps.runControl,
    profileTester: deps.profileTester, engineInfo: deps.engineInfo, quality: deps.quality,
  }));

  app.use(routeNotFound);
  app.use(createErrorHandler(deps.logger));
  return app;
}
