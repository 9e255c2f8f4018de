import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Router } from 'express';
import type { Request, Response } from 'express';
import { methodNotAllowed } from '../http/method-not-allowed.js';

/** What the reference routes serve. */
export interface ApiDocsDeps {
  /** The OpenAPI document, built once at start-up. */
  readonly document: object;
}

/** The Swagger UI files the page loads, served from the installed package by the gateway itself. */
const SWAGGER_UI_FILES = ['swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png'] as const;

/** Swagger UI's start-up, as a file of its own: the page runs no inline script. */
const START_SCRIPT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  withCredentials: false,
});
`;

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Friend-card gateway API</title>
    <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
    <link rel="stylesheet" href="/docs/swagger-ui.css">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script src="/docs/start.js"></script>
  </body>
</html>
`;

/**
 * `GET /openapi.json` (the document, serialised once) and `GET /docs` (Swagger UI rendering it).
 * Nothing is fetched from elsewhere, so helmet's default Content-Security-Policy holds here too.
 */
export function apiDocsRoutes(deps: ApiDocsDeps): Router {
  const documentJson = JSON.stringify(deps.document);
  const swaggerUiDir = dirname(
    createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'),
  );
  const router = Router();

  router
    .route('/openapi.json')
    .get((_req, res) => {
      res.set('Cache-Control', 'no-cache').type('application/json').send(documentJson);
    })
    .all(methodNotAllowed(['GET', 'HEAD']));
  router
    .route('/docs')
    .get((_req, res) => {
      res.set('Cache-Control', 'no-cache').type('html').send(PAGE);
    })
    .all(methodNotAllowed(['GET', 'HEAD']));
  router
    .route('/docs/start.js')
    .get((_req, res) => {
      res.set('Cache-Control', 'no-cache').type('text/javascript').send(START_SCRIPT);
    })
    .all(methodNotAllowed(['GET', 'HEAD']));
  for (const file of SWAGGER_UI_FILES) {
    const path = join(swaggerUiDir, file);
    router
      .route(`/docs/${file}`)
      .get((_req: Request, res: Response) => {
        // The files change only with the package: a day's caching spares a reload the 1.5 MB.
        res.sendFile(path, { maxAge: '1d' });
      })
      .all(methodNotAllowed(['GET', 'HEAD']));
  }
  return router;
}
