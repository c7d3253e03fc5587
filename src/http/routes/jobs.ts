import { Router } from 'express';
import type { RunFilter, RunKind, RunState } from '../../queue/run-record.ts';
import type { RunControl, RunReader } from '../../queue/run-view.ts';
import { JobNotFoundError, RunNotCancellableError } from '../../shared/errors.ts';
import { hashStudyUid } from '../../shared/uids.ts';
import { requireBearer } from '../bearer-auth.ts';
import type { components } from '../openapi-types.ts';
import { parseJsonBody, readRawBody } from '../request-body.ts';
import { getInput, type RequestValidator } from '../request-validator.ts';
import { jobLocation } from './studies.ts';

interface JobsRouteContext {
  runs: RunReader;
  runControl: RunControl;
  apiToken: string | undefined;
  validator: RequestValidator;
  bodyLimitBytes: number;
}

/** Runs: list (filters a console pages through), one run, and replays of failed or dead-lettered runs. */
export function jobsRouter(ctx: JobsRouteContext): Router {
  const router = Router();
  const auth = requireBearer(ctx.apiToken);

  router.get('/jobs', auth, ctx.validator.parameters('listJobs'), async (_req, res) => {
    // limit and offset carry the contract's defaults after validation.
    const query = getInput(res).query as {
      state?: RunState; errorCode?: string; modality?: string; study?: string; kind?: RunKind; from?: string; to?: string; limit: number; offset: number;
    };
    const filter: RunFilter = {
      limit: query.limit, offset: query.offset,
      ...(query.state ? { state: query.state } : {}),
      ...(query.errorCode ? { errorCode: query.errorCode } : {}),
      ...(query.modality ? { modality: query.modality } : {}),
      ...(query.kind ? { kind: query.kind } : {}),
      ...(query.study ? { studyKey: hashStudyUid(query.study) } : {}),
      ...(query.from ? { from: Date.parse(query.from) } : {}),
      ...(query.to ? { to: Date.parse(query.to) } : {}),
    };
    const body: components['schemas']['RunList'] = { jobs: await ctx.runs.listRuns(filter), limit: query.limit, offset: query.offset };
    res.json(body);
  });

  router.post('/jobs/retry', auth, readRawBody(ctx.bodyLimitBytes), ctx.validator.parameters('retryJobs'), async (req, res) => {
    const parsed = parseJsonBody(req) ?? {};
    ctx.validator.checkBody('retryJobs', parsed);
    const request = parsed as components['schemas']['BulkReplayRequest'];
    const replayed = await ctx.runControl.replayDeadLetters({ limit: request.limit ?? 50, ...(request.errorCode ? { errorCode: request.errorCode } : {}) });
    const body: components['schemas']['BulkReplayResult'] = { replayed };
    res.status(202).json(body);
  });

  router.get('/jobs/:id', auth, ctx.validator.parameters('getJob'), async (_req, res) => {
    const run = await ctx.runs.getRun(String(getInput(res).params.id));
    if (!run) throw new JobNotFoundError();
    const body: components['schemas']['Run'] = run;
    res.json(body);
  });

  router.post('/jobs/:id/retry', auth, ctx.validator.parameters('retryJob'), async (_req, res) => {
    const result = await ctx.runControl.replay(String(getInput(res).params.id));
    const body: components['schemas']['ReplayResult'] = result;
    res.status(202).location(jobLocation(result.jobId)).json(body);
  });

  router.post('/jobs/:id/cancel', auth, ctx.validator.parameters('cancelJob'), async (_req, res) => {
    const id = String(getInput(res).params.id);
    if (!ctx.runControl.cancel) throw new RunNotCancellableError();
    await ctx.runControl.cancel(id);
    const run = await ctx.runs.getRun(id);
    if (!run) throw new JobNotFoundError();
    const body: components['schemas']['Run'] = run;
    res.json(body);
  });
  return router;
}
