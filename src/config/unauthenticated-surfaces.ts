import { AuthenticationNotConfiguredError } from '../shared/errors.ts';
import type { Config } from './schema.ts';

/** The HTTP surfaces that would answer anyone, each named by the secret that would close it. */
export function unauthenticatedSurfaces(config: Config): ('API_TOKEN' | 'WEBHOOK_SECRET')[] {
  return [
    ...(config.API_TOKEN === undefined ? ['API_TOKEN' as const] : []),
    ...(config.WEBHOOK_SECRET === undefined ? ['WEBHOOK_SECRET' as const] : []),
  ];
}

/** An open API is the operator's explicit choice: refuses a configuration that leaves one open by omission. */
export function assertAuthenticationChosen(config: Config): void {
  const open = unauthenticatedSurfaces(config);
  if (open.length > 0 && !config.ALLOW_UNAUTHENTICATED) {
    throw new AuthenticationNotConfiguredError(open);
  }
}

/** What /readyz and the start-up log say while a surface is open. */
export function unauthenticatedWarnings(config: Config): string[] {
  return unauthenticatedSurfaces(config).map((key) => key === 'API_TOKEN'
    ? 'unauthenticated: API_TOKEN is not set, /studies and /jobs answer anyone'
    : 'unauthenticated: WEBHOOK_SECRET is not set, /fhir/notify accepts unsigned notifications from anyone');
}
