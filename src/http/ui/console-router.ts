import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Config } from '../../config/schema.ts';
import type { RunReader, RunControl } from '../../queue/run-view.ts';
import { AppError, JobNotFoundError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import type { ProfileTester, ProfileTestReport } from '../../shared/profile-test.ts';
import type { QualitySource } from '../../shared/quality-summary.ts';
import { secretsEqual } from '../../triggers/fhir-notification/verify-signature.ts';
import { layout, sendPage, setConsoleHeaders } from './console-layout.ts';
import { createLoginThrottle, createSessionStore, csrfMatches, type ConsoleSession } from './console-sessions.ts';
import { dashboardStrip, type DashboardFigures } from './dashboard-strip.ts';
import { html } from './html.ts';
import { loginPage } from './login-page.ts';
import { profilesPage } from './profiles-page.ts';
import { runPage } from './run-page.ts';
import { parseRunsQuery, runFilterOf, runsPage } from './runs-page.ts';

export const SESSION_COOKIE = 'unimedvl_console';
const LOGIN_COOKIE = 'unimedvl_console_login';
const SESSION_TTL_MS = 8 * 3600 * 1000;
const ASSETS = fileURLToPath(new URL('./assets/', import.meta.url));

export interface ConsoleContext {
  config: Config;
  logger: Logger;
  runs: RunReader;
  runControl: RunControl;
  profileTester?: ProfileTester | undefined;
  engineInfo?: (() => { name: string; version: string; provider: string }) | undefined;
  quality?: QualitySource | undefined;
  /** Tests pass a clock. */
  now?: () => number;
}

function cookies(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (req.headers.cookie ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at > 0) out[pair.slice(0, at).trim()] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return out;
}

function cookieOptions(req: Request, maxAgeMs: number) {
  return { httpOnly: true, sameSite: 'strict' as const, secure: req.secure, path: '/ui', maxAge: maxAgeMs };
}

/** Who is asking: a console session, or a bearer client (no session, no CSRF: browsers cannot forge headers). */
type Principal = { session: ConsoleSession } | { bearer: true };

/**
 * The operator console under /ui: server-rendered pages, one JS and one CSS file, all from this service.
 * Auth as the API: `Authorization: Bearer <API_TOKEN>`, or a login with the token that starts a session
 * (HttpOnly, SameSite=Strict cookie holding a random id). Without API_TOKEN (ALLOW_UNAUTHENTICATED) the
 * console is open like the API, and still issues a session for its CSRF tokens.
 */
export function consoleRouter(ctx: ConsoleContext): Router {
  const router = Router();
  const now = ctx.now ?? Date.now;
  const token = ctx.config.API_TOKEN;
  const sessions = createSessionStore({ ttlMs: SESSION_TTL_MS, now });
  const throttle = createLoginThrottle({ maxFailures: 5, windowMs: 15 * 60 * 1000, now });
  const form = express.urlencoded({ extended: false, limit: Math.max(ctx.config.BODY_LIMIT_BYTES, 16 * 1024 * 1024) });

  const principals = new WeakMap<Request, Principal>();
  const principal = (req: Request): Principal => principals.get(req)!;
  const csrfOf = (req: Request): string => {
    const p = principal(req);
    return 'session' in p ? p.session.csrfToken : '';
  };

  const startSession = (req: Request, res: Response): ConsoleSession => {
    const session = sessions.create();
    res.cookie(SESSION_COOKIE, session.id, cookieOptions(req, SESSION_TTL_MS));
    return session;
  };

  const authenticate: RequestHandler = (req, res, next) => {
    const presented = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
    if (token !== undefined && presented !== undefined && secretsEqual(presented, token)) {
      principals.set(req, { bearer: true });
      return next();
    }
    const session = sessions.get(cookies(req)[SESSION_COOKIE]);
    if (session) {
      principals.set(req, { session });
      return next();
    }
    if (token === undefined) {
      principals.set(req, { session: startSession(req, res) });
      return next();
    }
    // A POST without a session (expired) goes to the login page too; nothing it asked for is done.
    setConsoleHeaders(res);
    res.redirect(303, '/ui/login');
  };

  /** Every POST of a session carries its CSRF token in the form body. */
  const checkCsrf: RequestHandler = (req, res, next) => {
    const p = principal(req);
    if ('bearer' in p) return next();
    if (csrfMatches(p.session, (req.body as Record<string, unknown> | undefined)?.csrf)) return next();
    sendPage(res, layout({ title: 'Refused', csrfToken: p.session.csrfToken }, html`<p class="problem" role="alert">The form was stale or not from this console (CSRF check); reload the page and try again.</p>`), 403);
  };

  const page = (req: Request, res: Response, title: string, body: ReturnType<typeof html>, options: { active?: 'runs' | 'profiles'; status?: number } = {}) => {
    const p = principal(req);
    sendPage(res, layout({ title, csrfToken: csrfOf(req), canLogOut: token !== undefined && 'session' in p, ...(options.active ? { active: options.active } : {}) }, body), options.status);
  };

  const asset = (name: string, type: string): RequestHandler => {
    const body = readFileSync(`${ASSETS}${name}`);
    return (_req, res) => {
      res.set({ 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'public, max-age=300' }).type(type).send(body);
    };
  };
  router.get('/ui/assets/console.js', asset('console.js', 'text/javascript'));
  router.get('/ui/assets/console.css', asset('console.css', 'text/css'));

  router.get('/ui/login', (req, res) => {
    if (token === undefined) return void res.redirect(303, '/ui');
    const nonce = randomBytes(24).toString('base64url');
    res.cookie(LOGIN_COOKIE, nonce, cookieOptions(req, 15 * 60 * 1000));
    sendPage(res, layout({ title: 'Log in' }, loginPage({ nonce })));
  });

  router.post('/ui/login', form, (req, res) => {
    if (token === undefined) return void res.redirect(303, '/ui');
    const client = req.socket.remoteAddress ?? 'unknown';
    const body = (req.body ?? {}) as Record<string, unknown>;
    const retryAfter = throttle.retryAfterMs(client);
    const renew = (problem: string, status: number) => {
      const nonce = randomBytes(24).toString('base64url');
      res.cookie(LOGIN_COOKIE, nonce, cookieOptions(req, 15 * 60 * 1000));
      sendPage(res, layout({ title: 'Log in' }, loginPage({ nonce, problem })), status);
    };
    if (retryAfter > 0) {
      res.set('Retry-After', String(Math.ceil(retryAfter / 1000)));
      return renew(`Too many failed logins from this address; try again in ${Math.ceil(retryAfter / 60_000)} min.`, 429);
    }
    const nonce = cookies(req)[LOGIN_COOKIE];
    if (nonce === undefined || typeof body.nonce !== 'string' || !secretsEqual(body.nonce, nonce)) {
      return renew('The login form was stale; try again.', 403);
    }
    if (typeof body.token !== 'string' || !secretsEqual(body.token, token)) {
      throttle.recordFailure(client);
      ctx.logger.warn({ event: 'console-login-failed' }, 'console login failed');
      return renew('That is not the API token.', 401);
    }
    throttle.recordSuccess(client);
    res.clearCookie(LOGIN_COOKIE, { path: '/ui' });
    startSession(req, res);
    setConsoleHeaders(res);
    res.redirect(303, '/ui');
  });

  router.post('/ui/logout', authenticate, form, checkCsrf, (req, res) => {
    const p = principal(req);
    if ('session' in p) sessions.destroy(p.session.id);
    res.clearCookie(SESSION_COOKIE, { path: '/ui' });
    setConsoleHeaders(res);
    res.redirect(303, token === undefined ? '/ui' : '/ui/login');
  });

  const figures = async (): Promise<DashboardFigures> => {
    const settled = async <T>(work: () => Promise<T> | T): Promise<T | undefined> => {
      try {
        return await work();
      } catch (err) {
        ctx.logger.warn({ err }, 'console dashboard figure unavailable');
        return undefined;
      }
    };
    const [queueCounts, lastHour, engine, quality] = await Promise.all([
      settled(() => ctx.runs.queueCounts()),
      settled(() => ctx.runs.listRuns({ from: now() - 3600 * 1000, limit: 2000, offset: 0 })),
      settled(() => ctx.engineInfo?.()),
      settled(() => ctx.quality?.summary()),
    ]);
    return { queueCounts, lastHour: lastHour ?? [], engine, quality };
  };

  router.get('/ui', authenticate, async (req, res) => {
    const query = parseRunsQuery(req.query as Record<string, unknown>);
    const [found, strip] = await Promise.all([ctx.runs.listRuns(runFilterOf(query)), figures()]);
    page(req, res, 'Runs', runsPage(query, found, dashboardStrip(strip)), { active: 'runs' });
  });

  const runId = (req: Request): string => {
    const id = String(req.params.id ?? '');
    if (!/^[A-Za-z0-9-]{1,80}$/.test(id)) throw new JobNotFoundError();
    return id;
  };

  router.get('/ui/runs/:id', authenticate, async (req, res) => {
    const run = await ctx.runs.getRun(runId(req));
    if (!run) return page(req, res, 'Not found', html`<p class="problem">No run with this id (it may have passed RUN_RETENTION_MS).</p><p><a href="/ui">← all runs</a></p>`, { status: 404 });
    const notice = typeof req.query.notice === 'string' && /^[a-z-]{1,32}$/.test(req.query.notice) ? NOTICES[req.query.notice] : undefined;
    page(req, res, `Run ${run.id}`, runPage(run, { fhirBase: ctx.config.FHIR_URL, csrfToken: csrfOf(req), canCancel: ctx.runControl.cancel !== undefined, notice }), { active: 'runs' });
  });

  const runAction = (action: (id: string) => Promise<string>, notice: string): RequestHandler => async (req, res) => {
    const id = runId(req);
    try {
      const target = await action(id);
      setConsoleHeaders(res);
      res.redirect(303, `/ui/runs/${encodeURIComponent(target)}?notice=${notice}`);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      page(req, res, 'Refused', html`<p class="problem" role="alert"><code>${err.code}</code>: ${err.message}</p><p><a href="/ui/runs/${encodeURIComponent(id)}">← back to the run</a></p>`, { status: err.httpStatus });
    }
  };
  router.post('/ui/runs/:id/retry', authenticate, form, checkCsrf, runAction(async (id) => (await ctx.runControl.replay(id)).jobId, 'retried'));
  router.post('/ui/runs/:id/cancel', authenticate, form, checkCsrf, runAction(async (id) => {
    if (!ctx.runControl.cancel) throw new JobNotFoundError();
    await ctx.runControl.cancel(id);
    return id;
  }, 'cancelled'));

  const testerPage = (req: Request, res: Response, state: Partial<Parameters<typeof profilesPage>[0]>, status = 200) =>
    page(req, res, 'Profile tester', profilesPage({ csrfToken: csrfOf(req), canFetchStudy: ctx.profileTester?.testStudy !== undefined, ...state }), { active: 'profiles', status });

  router.get('/ui/profiles', authenticate, (req, res) => {
    if (!ctx.profileTester) return testerPage(req, res, { problem: 'The profile tester is not available in this process.' });
    testerPage(req, res, {});
  });

  router.post('/ui/profiles/test', authenticate, form, checkCsrf, async (req, res) => {
    const tester = ctx.profileTester;
    if (!tester) return testerPage(req, res, { problem: 'The profile tester is not available in this process.' }, 503);
    const body = (req.body ?? {}) as Record<string, unknown>;
    let report: ProfileTestReport;
    try {
      if (typeof body.study === 'string' && body.study !== '') {
        if (!tester.testStudy) return testerPage(req, res, { problem: 'DICOMWEB_URL is not set: paste the metadata instead.' }, 422);
        if (!/^[0-9.]{1,64}$/.test(body.study)) return testerPage(req, res, { problem: 'That is not a UID (digits and dots, at most 64).' }, 422);
        report = await tester.testStudy(body.study, AbortSignal.timeout(30_000));
      } else {
        let metadata: unknown;
        try {
          metadata = JSON.parse(String(body.metadata ?? ''));
        } catch {
          return testerPage(req, res, { problem: 'The metadata is not valid JSON (DICOM JSON: an array of datasets).' }, 422);
        }
        report = tester.testMetadata(metadata);
      }
    } catch (err) {
      if (err instanceof TypeError) return testerPage(req, res, { problem: `The metadata is not DICOM JSON: ${err.message}.` }, 422);
      if (err instanceof AppError) return testerPage(req, res, { problem: `${err.code}: ${err.message}` }, 422);
      throw err;
    }
    testerPage(req, res, { report });
  });

  router.post('/ui/profiles/validate', authenticate, form, checkCsrf, (req, res) => {
    const tester = ctx.profileTester;
    if (!tester) return testerPage(req, res, { problem: 'The profile tester is not available in this process.' }, 503);
    testerPage(req, res, { fileCheck: tester.validateProfileFile(String((req.body as Record<string, unknown> | undefined)?.profiles ?? '')) });
  });

  return router;
}

const NOTICES: Record<string, string> = {
  retried: 'Retry queued.',
  cancelled: 'Run cancelled.',
};
