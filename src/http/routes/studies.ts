import { Router } from 'express';
import type { RunState } from '../../queue/run-record.ts';
import type { RunReader } from '../../queue/run-view.ts';
import type { EnqueueStudy } from '../../queue/study-request.ts';
import { hashStudyUid } from '../../shared/uids.ts';
import { requireBearer } from '../bearer-auth.ts';
import type { components } from '../openapi-types.ts';
import { getInput, type RequestValidator } from '../request-validator.ts';

/** Manual trigger by Study Instance UID (validated as a DICOM UID), and the study's runs. */
export function studiesRouter(ctx: { enqueueStudy: EnqueueStudy; runs: RunReader; apiToken: string | undefined; validator: RequestValidator }): Router {
  const router = Router();
  const auth = requireBearer(ctx.apiToken);
  router.post('/studies/:studyInstanceUid/analyze', auth, ctx.validator.parameters('analyzeStudy'), async (_req, res) => {
    const studyInstanceUid = String(getInput(res).params.studyInstanceUid);
    const result = await ctx.enqueueStudy({ study: { studyInstanceUid }, trigger: 'api' });
    const body: components['schemas']['EnqueueResult'] = {
      jobId: result.jobId,
      created: result.created,
      rerunScheduled: result.rerunScheduled,
    };
    res.status(202).location(jobLocation(result.jobId)).json(body);
  });

  router.get('/studies/:studyInstanceUid/runs', auth, ctx.validator.parameters('listStudyRuns'), async (_req, res) => {
    const input = getInput(res);
    const { state, limit, offset } = input.query as { state?: RunState; limit: number; offset: number };
    const studyKey = hashStudyUid(String(input.params.studyInstanceUid));
    const jobs = await ctx.runs.listRuns({ studyKey, limit, offset, ...(state ? { state } : {}) });
    const body: components['schemas']['RunList'] = { jobs, limit, offset };
    res.json(body);
  });
  return router;
}

export function jobLocation(jobId: string): string {
  return `/jobs/${encodeURIComponent(jobId)}`;
}
