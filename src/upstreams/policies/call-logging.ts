import type { UpstreamOutcome, UpstreamPolicy, UpstreamRequest } from '../upstream-pipeline.js';

/** The logged kind of an upstream call whose 401 or 403 refused the client's token. */
export const CREDENTIALS_REJECTED = 'credentials_rejected';

/**
 * One log line per upstream call (STYLE.md 26): a failure at warn with its kind, status and error
 * code; a success at debug, built only when debug is on. No bodies, no tokens.
 *
 * An upstream's 401 or 403 is the client's token being refused, not the upstream failing: it is
 * logged at info with kind `credentials_rejected`, so a wave of expired tokens pages nobody.
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
      if (status === 401 || status === 403) {
        logger.info(
          { upstream, xuidCount, durationMs, status, kind: CREDENTIALS_REJECTED, xblCorrelationId },
          'upstream rejected credentials',
        );
        return outcome;
      }
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
