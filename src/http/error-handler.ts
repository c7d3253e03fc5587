import type { ErrorRequestHandler, RequestHandler } from 'express';
import { toOperationOutcome } from '../fhir/outcome.ts';
import {
  AppError, InternalError, JsonMalformedError, PayloadTooLargeError, RequestInvalidError, RouteNotFoundError,
  UnauthorizedError, UnsupportedMediaTypeError, toAppError,
} from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** Anything no route claimed. */
export const routeNotFound: RequestHandler = (_req, _res, next) => next(new RouteNotFoundError());

/**
 * The only place that writes an error response: AppErrors become their status and OperationOutcome;
 * everything else is a 500 whose message stays in the process (it may hold data).
 */
export function createErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const appError = fromHttpLayer(error) ?? toAppError(error);
    if (appError.httpStatus >= 500) logger.error({ err: error, code: appError.code, method: req.method }, 'request failed');
    else logger.info({ code: appError.code, status: appError.httpStatus, method: req.method }, 'request refused');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (appError instanceof UnauthorizedError) res.setHeader('WWW-Authenticate', 'Bearer');
    res.status(appError.httpStatus).type(FHIR_JSON).send(JSON.stringify(toOperationOutcome(appError)));
  };
}

/** Errors raised by express and body-parser carry `type`/`status`; map the ones a client can cause. */
function fromHttpLayer(error: unknown): AppError | undefined {
  if (error instanceof AppError || error === null || typeof error !== 'object') return undefined;
  const { type, status } = error as { type?: unknown; status?: unknown };
  switch (type) {
    case 'entity.too.large':
      return new PayloadTooLargeError({ cause: error });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new UnsupportedMediaTypeError({ cause: error });
    case 'entity.parse.failed':
      return new JsonMalformedError({ cause: error });
    case 'request.size.invalid':
    case 'request.aborted':
      return new RequestInvalidError({ cause: error });
  }
  // e.g. a path parameter that is not valid percent-encoding (express answers these with status 400).
  if (status === 400) return new RequestInvalidError({ cause: error });
  return status === undefined ? undefined : new InternalError({ cause: error });
}
