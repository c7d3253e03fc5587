import { Router } from 'express';
import type { EnqueueStudy } from '../../queue/study-request.ts';
import { requireBearer } from '../bearer-auth.ts';
import type { components } from '../openapi-types.ts';
import { getInput, type RequestValidator } from '../request-validator.ts';

/** Manual trigger: enqueue one study by its Study Instance UID (validated as a DICOM UID). */
export function studiesRouter(ctx: { enqueueStudy: EnqueueStudy; apiToken: string | undefined; validator: RequestValidator }): Router {
  const router = Router();
  router.post('/studies/:studyInstanceUid/analyze', requireBearer(ctx.apiToken), ctx.validator.parameters('analyzeStudy'), async (_req, res) => {
    const studyInstanceUid = String(getInput(res).params.studyInstanceUid);
    const result = await ctx.enqueueStudy({ study: { studyInstanceUid }, trigger: 'api' });
    const body: components['schemas']['EnqueueResult'] = {
      jobId: result.jobId,
      created: result.created,
      rerunScheduled: result.rerunScheduled,
    };
    res.status(202).location(jobLocation(result.jobId)).json(body);
  });
  return router;
}

export function jobLocation(jobId: string): string {
  return `/jobs/${encodeURIComponent(jobId)}`;
}
