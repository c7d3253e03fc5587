import { Router } from 'express';
import type { JobState, JobStore } from '../../queue/job-view.ts';
import { JobNotFoundError } from '../../shared/errors.ts';
import { requireBearer } from '../bearer-auth.ts';
import type { components } from '../openapi-types.ts';
import { getInput, type RequestValidator } from '../request-validator.ts';

export function jobsRouter(ctx: { jobs: JobStore; apiToken: string | undefined; validator: RequestValidator }): Router {
  const router = Router();
  const auth = requireBearer(ctx.apiToken);

  router.get('/jobs', auth, ctx.validator.parameters('listJobs'), async (_req, res) => {
    // limit and offset carry the contract's defaults after validation.
    const { state, limit, offset } = getInput(res).query as { state?: JobState; limit: number; offset: number };
    const jobs = await ctx.jobs.listJobs({ ...(state ? { state } : {}), limit, offset });
    const body: components['schemas']['JobList'] = { jobs, limit, offset };
    res.json(body);
  });

  router.get('/jobs/:id', auth, ctx.validator.parameters('getJob'), async (_req, res) => {
    const job = await ctx.jobs.getJob(String(getInput(res).params.id));
    if (!job) throw new JobNotFoundError();
    const body: components['schemas']['JobView'] = job;
    res.json(body);
  });
  return router;
}
