import { Router } from 'express';
import type { EnqueueStudy } from '../../queue/study-request.ts';
import { ModelLimitExceededError } from '../../shared/errors.ts';
import { requireBearer } from '../bearer-auth.ts';
import type { components } from '../openapi-types.ts';
import { parseJsonBody, readRawBody } from '../request-body.ts';
import { getInput, type RequestValidator } from '../request-validator.ts';
import { jobLocation } from './studies.ts';

export interface QuestionLimits {
  /** MODEL_MAX_IMAGES: more slices than the model takes is refused here, before any work. */
  maxImages: number;
  /** MODEL_MAX_NEW_TOKENS. */
  maxNewTokens: number;
}

/** POST /studies/{uid}/questions: one question about a study's images, answered by its own run. */
export function questionsRouter(ctx: {
  enqueueStudy: EnqueueStudy; apiToken: string | undefined; validator: RequestValidator; bodyLimitBytes: number; limits: QuestionLimits;
}): Router {
  const router = Router();
  const auth = requireBearer(ctx.apiToken);
  router.post('/studies/:studyInstanceUid/questions', auth, readRawBody(ctx.bodyLimitBytes), ctx.validator.parameters('askQuestion'), async (req, res) => {
    const parsed = parseJsonBody(req);
    ctx.validator.checkBody('askQuestion', parsed);
    const request = parsed as components['schemas']['QuestionRequest'];
    if (request.slices && request.slices.length > ctx.limits.maxImages) {
      throw new ModelLimitExceededError({ detail: `slices: at most ${ctx.limits.maxImages} (MODEL_MAX_IMAGES)` });
    }
    if (request.maxNewTokens !== undefined && request.maxNewTokens > ctx.limits.maxNewTokens) {
      throw new ModelLimitExceededError({ detail: `maxNewTokens: at most ${ctx.limits.maxNewTokens} (MODEL_MAX_NEW_TOKENS)` });
    }
    const studyInstanceUid = String(getInput(res).params.studyInstanceUid);
    const result = await ctx.enqueueStudy({
      study: { studyInstanceUid },
      trigger: 'api',
      question: {
        text: request.question,
        ...(request.series ? { seriesInstanceUid: request.series } : {}),
        ...(request.slices ? { slices: request.slices } : {}),
        ...(request.maxNewTokens !== undefined ? { maxNewTokens: request.maxNewTokens } : {}),
      },
    });
    const body: components['schemas']['EnqueueResult'] = { jobId: result.jobId, created: result.created, rerunScheduled: result.rerunScheduled };
    res.status(202).location(jobLocation(result.jobId)).json(body);
  });
  return router;
}
