import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.ts';
import type { RunControl, RunReader } from '../queue/run-view.ts';
import type { Dependency } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import type { EnqueueStudy } from '../queue/study-request.ts';
import type { ReconciliationReason } from '../triggers/fhir-notification/apply-notification.ts';
import type { NotificationLog } from '../triggers/notification-log.ts';
import type { QualitySource } from '../shared/quality-summary.ts';
import type { ProfileTester } from '../shared/profile-test.ts';

export interface ReadinessCheck {
  dependency: Dependency;
  /** Resolves when reachable; rejects (any error) when not. */
  check(): Promise<void>;
}

/** Everything the HTTP app needs; main.ts builds it, tests pass their own. */
export interface AppDeps {
  config: Config;
  logger: Logger;
  enqueueStudy: EnqueueStudy;
  runs: RunReader;
  runControl: RunControl;
  readiness: ReadinessCheck[];
  /** Conditions /readyz names while they hold without making the service unready (audit delivery failing). */
  readinessWarnings?: () => string[];
  metrics: Registry;
  notifications: NotificationLog;
  /**
   * Called when a notification carries no usable focus (an R4 criteria subscription without payload) or
   * event numbers show a gap: something changed, search the FHIR server to find out what.
   */
  requestReconciliation(reason: ReconciliationReason): void;
  /** Review outcome figures (GET /quality, the console); absent when the review loop is off. */
  quality?: QualitySource;
  /** The console's task-profile tester (main.ts builds it from the service's profiles); absent: the tester says so. */
  profileTester?: ProfileTester;
  /** The loaded model and its execution provider (the console's strip); absent in an `api`-only process. */
  engineInfo?: () => { name: string; version: string; provider: string };
}
