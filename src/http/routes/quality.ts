import { Router } from 'express';
import type { QualitySource } from '../../shared/quality-summary.ts';
import { requireBearer } from '../bearer-auth.ts';
import type { components } from '../openapi-types.ts';

/** GET /quality: review outcome figures per model version and task; no groups while the review loop is off. */
export function qualityRouter(ctx: { quality: QualitySource | undefined; apiToken: string | undefined }): Router {
  const router = Router();
  router.get('/quality', requireBearer(ctx.apiToken), async (_req, res) => {
    const body: components['schemas']['QualitySummary'] = ctx.quality
      ? await ctx.quality.summary()
      : { generatedAt: new Date().toISOString(), groups: [] };
    res.json(body);
  });
  return router;
}
