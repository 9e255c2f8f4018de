import type { RequestHandler } from 'express';
import { MethodNotAllowedError } from '../errors.js';

/** Answers 405 with `Allow` for a known path asked with another method. */
export function methodNotAllowed(allowed: readonly string[]): RequestHandler {
  return (req) => {
    throw new MethodNotAllowedError(req.method, allowed);
  };
}
