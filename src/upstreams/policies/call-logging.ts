import type { UpstreamOutcome, UpstreamPolicy, UpstreamRequest } from '../upstream-pipeline.js';

/**
 * One log line per upstream call (STYLE.md 26): a failure at warn with its kind, status and error
 * code; a success at debug, built only when debug is on. No bodies, no tokens.
 */
export function callLogging(): UpstreamPolicy {
  return (next) =>
    async <T>(request: UpstreamRequest<T>): Promise<UpstreamOutcome<T>> => {
      const startedAt = performance.now();
      const outcome = await next(request);
      const { logger } = request.context;
      const { upstream } = request.endpoint;
      const { xuidCount } = request;
      if (outcome.ok) {
        if (logger.isLevelEnabled('debug')) {
          const durationMs = Math.round(performance.now() - startedAt);
          const { xblCorrelationId } = outcome;
          logger.debug(
            { upstream, xuidCount, durationMs, status: 200, xblCorrelationId },
            'upstream call finished',
          );
        }
        return outcome;
      }
      const { kind, status, cause, xblCorrelationId } = outcome.failure;
      const durationMs = Math.round(performance.now() - startedAt);
      const err = cause instanceof Error ? { type: cause.name, code: codeOf(cause) } : undefined;
      logger.warn(
        { upstream, xuidCount, durationMs, status, kind, err, xblCorrelationId },
        'upstream call failed',
      );
      return outcome;
    };
}

function codeOf(error: Error): unknown {
  return (error as { code?: unknown }).code;
}
