import { SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import type { Attributes, Tracer } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
} from '@opentelemetry/semantic-conventions';
import type { UpstreamOutcome, UpstreamPolicy, UpstreamRequest } from '../upstream-pipeline.js';

/** Options of the tracing policy. */
export interface TracingOptions {
  /** The process's tracer; tracing is off (the policy adds nothing) when absent. */
  readonly tracer?: Tracer | undefined;
  /** The upstream's base URL, for the span's `server.*` and `url.full` attributes. */
  readonly baseUrl?: string | undefined;
}

/**
 * One CLIENT span per upstream call attempt really sent, child of the request's server span,
 * whose span id goes out in the call's `traceparent`: the upstream's own spans then hang under
 * it. Attributes: the upstream, its batch size, the attempt (1 first, 2 for the first retry…),
 * the pipeline's outcome (`ok` or the failure kind) and the HTTP status when there is one.
 *
 * With tracing off the policy is the next step itself: no span, no closure, no allocation.
 */
export function tracing(options: TracingOptions): UpstreamPolicy {
  const { tracer } = options;
  if (tracer === undefined) return (next) => next;
  const server = options.baseUrl === undefined ? undefined : new URL(options.baseUrl);
  const basePath = server?.pathname.replace(/\/+$/, '') ?? '';
  const port = server ? Number(server.port || (server.protocol === 'https:' ? 443 : 80)) : 0;
  return (next) =>
    async <T>(request: UpstreamRequest<T>): Promise<UpstreamOutcome<T>> => {
      const parent = request.context.otelContext;
      // Without the request's span (a caller outside a client request) there is no trace to join.
      if (parent === undefined) return next(request);
      const { upstream, path } = request.endpoint;
      const attempt = request.attempt ?? 1;
      const attributes: Attributes = {
        [ATTR_HTTP_REQUEST_METHOD]: 'POST',
        'gateway.upstream.name': upstream,
        'gateway.upstream.batch_size': request.xuidCount,
        'gateway.upstream.attempt': attempt,
      };
      if (attempt > 1) attributes[ATTR_HTTP_REQUEST_RESEND_COUNT] = attempt - 1;
      if (server) {
        attributes[ATTR_SERVER_ADDRESS] = server.hostname;
        attributes[ATTR_SERVER_PORT] = port;
        attributes[ATTR_URL_FULL] = server.origin + basePath + path;
      }
      const span = tracer.startSpan(`POST ${path}`, { kind: SpanKind.CLIENT, attributes }, parent);
      const { traceId, spanId, traceFlags } = span.spanContext();
      const flags = (traceFlags & TraceFlags.SAMPLED) === 0 ? '00' : '01';
      const outcome = await next({ ...request, traceparent: `00-${traceId}-${spanId}-${flags}` });
      if (outcome.ok) {
        span.setAttribute('gateway.upstream.outcome', 'ok');
        span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, 200);
      } else {
        const { kind, status } = outcome.failure;
        span.setAttribute('gateway.upstream.outcome', kind);
        if (status !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
        span.setAttribute(ATTR_ERROR_TYPE, status === undefined ? kind : String(status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
      return outcome;
    };
}
