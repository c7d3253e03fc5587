import type { RequestHandler } from 'express';
import { Gauge, Histogram, type Registry } from 'prom-client';
import { STUDY_QUEUE } from '../queue/job-types.ts';
import type { JobStore } from '../queue/job-view.ts';
import type { Logger } from '../shared/logger.ts';

export const METRIC_NAMES = {
  httpDuration: 'unimedvl_http_request_duration_seconds',
  jobsByState: 'unimedvl_jobs',
  queueDepth: 'unimedvl_queue_depth',
} as const;

/** States that count as "waiting to run" for the queue depth. */
const QUEUED_STATES = ['waiting', 'prioritized', 'delayed'];

export interface HttpMetrics {
  /** Times every request; the route label is the matched template (`/jobs/{id}`), never the raw path. */
  middleware: RequestHandler;
}

/**
 * Registers the HTTP and queue metrics on the given registry. Job gauges are read from the job store
 * when Prometheus scrapes, so they cost nothing in between. Calling it twice on one registry reuses the
 * metrics already there.
 */
export function registerHttpMetrics(registry: Registry, jobs: Pick<JobStore, 'countsByState'>, logger?: Logger): HttpMetrics {
  const duration = existing<Histogram<'method' | 'route' | 'status_code'>>(registry, METRIC_NAMES.httpDuration) ??
    new Histogram({
      name: METRIC_NAMES.httpDuration,
      help: 'HTTP request duration in seconds by route template, method and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });

  const readCounts = async (): Promise<Record<string, number> | undefined> => {
    try {
      return await jobs.countsByState();
    } catch (err) {
      logger?.warn({ err }, 'job counts unavailable for metrics');
      return undefined;
    }
  };

  if (!existing(registry, METRIC_NAMES.jobsByState)) {
    new Gauge({
      name: METRIC_NAMES.jobsByState,
      help: 'Study analysis jobs by state',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        this.reset();
        const counts = await readCounts();
        for (const [state, count] of Object.entries(counts ?? {})) this.set({ state }, count);
      },
    });
  }
  if (!existing(registry, METRIC_NAMES.queueDepth)) {
    new Gauge({
      name: METRIC_NAMES.queueDepth,
      help: 'Study analysis jobs waiting to run (waiting, prioritized, delayed)',
      // Labelled so that an unknown depth (job store down) drops the series instead of reporting 0.
      labelNames: ['queue'],
      registers: [registry],
      async collect() {
        this.reset();
        const counts = await readCounts();
        if (counts) this.set({ queue: STUDY_QUEUE }, QUEUED_STATES.reduce((sum, state) => sum + (counts[state] ?? 0), 0));
      },
    });
  }

  const middleware: RequestHandler = (req, res, next) => {
    const end = duration.startTimer();
    res.on('finish', () => {
      end({ method: req.method, route: routeTemplate(req.route?.path), status_code: String(res.statusCode) });
    });
    next();
  };
  return { middleware };
}

/** `/jobs/:id` -> `/jobs/{id}` (the OpenAPI spelling); unmatched requests share one label. */
function routeTemplate(path: unknown): string {
  return typeof path === 'string' ? path.replace(/:([A-Za-z0-9_]+)/g, '{$1}') : 'unmatched';
}

function existing<T>(registry: Registry, name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}
