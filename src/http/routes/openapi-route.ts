import { Router } from 'express';
import type { OpenApiDocument } from '../openapi-document.ts';

/** The contract itself, as JSON (open: it describes the API, it holds no data). */
export function openApiRouter(document: OpenApiDocument): Router {
  const router = Router();
  const json = JSON.stringify(document);
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(json);
  });
  return router;
}
