import { AppError } from '../shared/errors.ts';

/**
 * What the command line prints for an error that ends it: always one line. Known errors: their
 * messages are constant and name keys or file positions, never values. Foreign messages may carry
 * data: the line says where it failed (source location), not what it said.
 */
export function errorLine(error: unknown): string {
  const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();
  if (error instanceof AppError) return oneLine(`unimedvl-plugin: ${error.message} (${error.code}${error.detail ? `: ${error.detail}` : ''})`);
  if (!(error instanceof Error)) return 'unimedvl-plugin: unexpected error (INTERNAL)';
  const where = /((?:file:\/\/|node:|\/)[^\s()]+:\d+:\d+)/.exec(error.stack?.split('\n').find((l) => /^\s+at /.test(l)) ?? '')?.[1];
  return oneLine(`unimedvl-plugin: unexpected error (INTERNAL: ${error.constructor.name}${where ? ` at ${where}` : ''})`);
}
