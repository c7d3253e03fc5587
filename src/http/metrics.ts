import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RunReader } from '../queue/run-view.ts';
import type { Logger } from '../shared/logger.ts';

export const METRIC_NAMES = {
  httpDuration: 'unimedvl_http_request_duration_seconds',
  jobsByState: 'unimedvl_jobs',
  queueDepth: 'unimedvl_queue_depth',
  runsStalled: 'unimedvl_runs_stalled_total',
  runsDeadLetter: 'unimedvl_runs_dead_letter',
} as const;

/** States that count as "waiting to run" for the queue depth. */
const QUEUED_STATES = ['waiting', 'prioritized', 'delayed'];

export interface HttpMetrics {
  /** Times every request; the route label is the matched template (`/jobs/{id}`), never the raw path. */
  middleware: RequestHandler;
}

/**
 * Registers the HTTP, queue and run metrics on the given registry. Queue and run figures are read from
 * Redis when Prometheus scrapes (they are shared by every process on one Redis), so they cost nothing in
 * between. Calling it twice on one registry reuses the metrics already there.
 */
export function registerHttpMetrics(
  registry: Registry, runs: Pick<RunReader, 'queueCounts' | 'stalledTotal' | 'deadLetterCount'>, logger?: Logger,
): HttpMetrics {
  const duration = existing<Histogram<'method' | 'route' | 'status_code'>>(registry, METRIC_NAMES.httpDuration) ??
    new Histogram({
      name: METRIC_NAMES.httpDuration,
      help: 'HTTP request duration in seconds by route template, method and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });

  // Each figure is read on its own: one missing (Redis down) drops that series instead of reporting 0.
  const read = async <T>(what: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await what();
    } catch (err) {
      logger?.warn({ err }, 'queue figures unavailable for metrics');
      return undefined;
    }
  };

  if (!existing(registry, METRIC_NAMES.jobsByState)) {
    new Gauge({
      name: METRIC_NAMES.jobsByState,
      help: 'BullMQ jobs by queue (study-analysis, study-publish) and state',
      labelNames: ['queue', 'state'],
      registers: [registry],
      async collect() {
        this.reset();
        const counts = await read(() => runs.queueCounts());
        for (const [queue, byState] of Object.entries(counts ?? {})) {
          for (const [state, count] of Object.entries(byState)) this.set({ queue, state }, count);
        }
      },
    });
  }
  if (!existing(registry, METRIC_NAMES.queueDepth)) {
    new Gauge({
      name: METRIC_NAMES.queueDepth,
      help: 'Jobs waiting to run (waiting, prioritized, delayed) by queue',
      labelNames: ['queue'],
      registers: [registry],
      async collect() {
        this.reset();
        const counts = await read(() => runs.queueCounts());
        for (const [queue, byState] of Object.entries(counts ?? {})) {
          this.set({ queue }, QUEUED_STATES.reduce((sum, state) => sum + (byState[state] ?? 0), 0));
        }
      },
    });
  }
  if (!existing(registry, METRIC_NAMES.runsStalled)) {
    new Counter({
      name: METRIC_NAMES.runsStalled,
      help: 'Run attempts found stalled (their worker died or stopped renewing its lock) and put back in the queue',
      // Labelled (by run kind) so that an unknown figure drops the series instead of reporting 0.
      labelNames: ['kind'],
      registers: [registry],
      async collect() {
        const total = await read(() => runs.stalledTotal());
        this.reset();
        if (total !== undefined) this.inc({ kind: 'analysis' }, total);
      },
    });
  }
  if (!existing(registry, METRIC_NAMES.runsDeadLetter)) {
    new Gauge({
      name: METRIC_NAMES.runsDeadLetter,
      help: 'Runs whose retry window ended on a transient fault, waiting for a replay',
      labelNames: ['kind'],
      registers: [registry],
      async collect() {
        this.reset();
        const count = await read(() => runs.deadLetterCount());
        if (count !== undefined) this.set({ kind: 'analysis' }, count);
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
