import { pino, type Logger, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

/** `json`: one JSON object a line; `pretty`: human-readable lines; `auto`: pretty on a terminal, else JSON. */
export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * JSON logs. Log what we generate (job ids, hashed study keys, counts, durations, status codes, error
 * codes), never names, MRNs, accession numbers, dates of birth, raw UIDs, bodies, prompts or model text.
 * The redact list is a second line of defence for fields that must never leave the process.
 */
export function createLogger(options: { level?: string; destination?: DestinationStream; format?: LogFormat } = {}): Logger {
  const target = options.destination ?? process.stdout;
  const terminal = (target as { isTTY?: boolean }).isTTY === true;
  const human = options.format === 'pretty' || (options.format !== 'json' && terminal);
  const destination = human
    ? pretty({ destination: target as NodeJS.WritableStream, sync: true, colorize: terminal, singleLine: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,service' })
    : options.destination;
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'unimedvl-plugin' },
      redact: {
        paths: ['req.headers.authorization', 'req.headers["x-signature"]', 'body', 'resource', 'text', 'prompt', 'studyInstanceUid'],
        censor: '[redacted]',
      },
      serializers: { err: serializeError },
    },
    destination,
  );
}

/** Errors are logged by class, code and stack only: messages of foreign errors may carry data. */
function serializeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error };
  const code = (error as { code?: unknown }).code;
  const own = error.constructor.name;
  return {
    type: own,
    code: typeof code === 'string' ? code : undefined,
    // Our own errors have constant messages; anything else keeps only its first stack frame location.
    message: 'detail' in error ? error.message : undefined,
    stack: error.stack?.split('\n').slice(1, 4).join('\n'),
  };
}
