import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';
import type { Context, Span, Tracer } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import type { NextFunction, Request, Response } from 'express';
import type { TraceContext } from '../call-context.js';
import { requestIdOf } from './request-id.js';
import { parseTraceparent } from './trace-context.js';

/** What the server span gives the rest of the request, kept in `res.locals`. */
export interface RequestTracing {
  /** The OpenTelemetry context holding the server span: the parent of upstream spans. */
  readonly context: Context;
  /** The span's trace, for outgoing calls: its trace id and flags, the client's `tracestate`. */
  readonly trace: TraceContext;
  /** The span's ids for every log line of the request. */
  readonly logFields: { readonly trace_id: string; readonly span_id: string };
}

/** Methods the HTTP semantic conventions name; any other is `_OTHER`, to bound cardinality. */
const KNOWN_METHODS = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'TRACE',
]);

/**
 * One SERVER span per client request, with the HTTP semantic-convention attributes and the
 * request id; its parent is the client's span when `traceparent` is valid W3C trace context
 * (API.md §5 rule 8), else it starts a trace. Named `GET /friends-with-profiles` once the route
 * is known, and ended when the response closes. Comes after `requestId`, before request logging.
 */
export function serverSpans(tracer: Tracer) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const incoming = parseTraceparent(req.headers.traceparent, req.headers.tracestate);
    const parent = incoming
      ? trace.setSpanContext(ROOT_CONTEXT, {
          traceId: incoming.traceId,
          spanId: incoming.parentId,
          traceFlags: Number.parseInt(incoming.flags, 16) & TraceFlags.SAMPLED,
          isRemote: true,
          // The client's `tracestate` goes out with every upstream call as it came (TraceContext);
          // the span itself needs none.
        })
      : ROOT_CONTEXT;
    const method = KNOWN_METHODS.has(req.method) ? req.method : '_OTHER';
    const span = tracer.startSpan(
      method === '_OTHER' ? 'HTTP' : method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: method,
          [ATTR_URL_SCHEME]: 'http',
          [ATTR_URL_PATH]: req.path,
          'gateway.request_id': requestIdOf(res),
        },
      },
      parent,
    );
    if (method === '_OTHER') span.setAttribute(ATTR_HTTP_REQUEST_METHOD_ORIGINAL, req.method);
    const { traceId, spanId, traceFlags } = span.spanContext();
    const tracing: RequestTracing = {
      context: trace.setSpan(parent, span),
      trace: {
        traceId,
        flags: (traceFlags & TraceFlags.SAMPLED) === 0 ? '00' : '01',
        state: incoming?.state,
      },
      logFields: { trace_id: traceId, span_id: spanId },
    };
    res.locals.tracing = tracing;
    res.once('close', () => {
      endServerSpan(span, method, req, res);
    });
    next();
  };
}

/** The request's tracing when tracing is on, else undefined. */
export function requestTracingOf(res: Response): RequestTracing | undefined {
  return res.locals.tracing as RequestTracing | undefined;
}

const NO_FIELDS = Object.freeze({});

/** `trace_id` and `span_id` of the request's server span, for the request's logger. */
export function traceLogFields(res: Response): object {
  return requestTracingOf(res)?.logFields ?? NO_FIELDS;
}

function endServerSpan(span: Span, method: string, req: Request, res: Response): void {
  const routePath = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof routePath === 'string') {
    const route = req.baseUrl + routePath;
    span.setAttribute(ATTR_HTTP_ROUTE, route);
    span.updateName(`${method === '_OTHER' ? 'HTTP' : method} ${route}`);
  }
  if (res.writableFinished) {
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
    // A server span is an error only for a 5xx: a 4xx is the client's doing.
    if (res.statusCode >= 500) {
      span.setAttribute(ATTR_ERROR_TYPE, String(res.statusCode));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  } else {
    span.setAttribute(ATTR_ERROR_TYPE, 'client_hung_up');
  }
  span.end();
}
