import { Router } from 'express';
import { DependencyUnavailableError, FhirPermissionMissingError } from '../../shared/errors.ts';
import type { ReadinessCheck } from '../app-deps.ts';
import type { components } from '../openapi-types.ts';

/** How long one readiness check may take before its dependency counts as down. */
export const READINESS_TIMEOUT_MS = 2_000;

export interface HealthOptions {
  /** Said on every ready answer (an API open without authentication); they do not make it unready. */
  warnings?: string[];
  /** Said while they hold (the audit sink failing): asked on each /readyz, never unready either. */
  currentWarnings?: () => string[];
  timeoutMs?: number;
}

/** /healthz: the process answers. /readyz: every dependency answers, checked in parallel. */
export function healthRouter(readiness: ReadinessCheck[], options: HealthOptions = {}): Router {
  const { timeoutMs = READINESS_TIMEOUT_MS } = options;
  const router = Router();
  router.get('/healthz', (_req, res) => {
    const body: components['schemas']['Health'] = { status: 'ok' };
    res.json(body);
  });
  router.get('/readyz', async (_req, res) => {
    const results = await Promise.allSettled(readiness.map((r) => withTimeout(r.check(), timeoutMs)));
    const failing = readiness.flatMap((r, i) => {
      const result = results[i]!;
      if (result.status === 'fulfilled') return [];
      // Foreign failure messages may carry anything: only our permission error says more than the name.
      return [result.reason instanceof FhirPermissionMissingError ? `${r.dependency} (${result.reason.detail})` : r.dependency];
    });
    if (failing.length > 0) throw new DependencyUnavailableError(readiness.find((_, i) => results[i]!.status === 'rejected')!.dependency, { detail: failing.join(', ') });
    const warnings = [...(options.warnings ?? []), ...(options.currentWarnings?.() ?? [])];
    const body: components['schemas']['Readiness'] = {
      status: 'ready',
      checks: Object.fromEntries(readiness.map((r) => [r.dependency, 'ok' as const])),
      ...(warnings.length > 0 ? { warnings } : {}),
    };
    res.json(body);
  });
  return router;
}

async function withTimeout(check: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('readiness check timed out')), ms);
  });
  try {
    await Promise.race([check, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
