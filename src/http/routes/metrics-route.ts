import { Router } from 'express';
import type { Registry } from 'prom-client';

/** Prometheus scrape endpoint; open like the probes (it holds counts and durations, no data). */
export function metricsRouter(registry: Registry): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    const text = await registry.metrics();
    res.type(registry.contentType).send(text);
  });
  return router;
}
