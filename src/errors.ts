/** Every way an upstream part can fail, as the contract spells it (API.md §3 rule 6). */
export const FAILURE_KINDS = [
  'timeout',
  'unavailable',
  'bad_response',
  'throttled',
  'circuit_open',
] as const;

/** A failed part of an upstream answer. */
export type FailureKind = (typeof FAILURE_KINDS)[number];

/** Every code a problem response can carry; the README's error table lists exactly these. */
export const ERROR_CODES = [
  'invalid_query',
  'missing_authorization',
  'upstream_unauthorized',
  'upstream_forbidden',
  'upstreams_failed',
  'upstreams_timed_out',
  'throttled',
  'rate_limited',
  'overloaded',
  'not_found',
  'method_not_allowed',
  'uri_too_long',
  'bad_request',
  'internal',
] as const;

/** A stable problem code. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** One problem with one query parameter, reported in a 400's `errors` member. */
export interface ParameterIssue {
  readonly parameter: string;
  readonly message: string;
}

/** Options every gateway error accepts. */
interface GatewayErrorOptions {
  readonly detail: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly cause?: unknown;
}

/**
 * The one error type that becomes an HTTP answer. `code` is stable and documented in the
 * README; `http/problem-details.ts` is the only place that turns it into a response.
 */
export class GatewayError extends Error {
  override readonly name: string = 'GatewayError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly title: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, status: number, title: string, options: GatewayErrorOptions) {
    super(options.detail, { cause: options.cause });
    this.code = code;
    this.status = status;
    this.title = title;
    this.headers = options.headers ?? {};
  }
}

/** 400: the query broke the contract; nothing was sent upstream. */
export class InvalidRequestError extends GatewayError {
  readonly issues: readonly ParameterIssue[];

  constructor(issues: readonly ParameterIssue[]) {
    const detail = issues.map((issue) => issue.message).join('; ');
    super('invalid_query', 400, 'Invalid query', { detail });
    this.issues = issues;
  }
}

/** 401: the client sent no usable `Authorization`; nothing was sent upstream. */
export class MissingCredentialsError extends GatewayError {
  constructor(detail: string) {
    super('missing_authorization', 401, 'Missing or malformed Authorization', {
      detail,
      headers: { 'WWW-Authenticate': 'XBL3.0' },
    });
  }
}

/** 401 or 403: an upstream rejected the caller's token, so the caller must sign in again. */
export class UpstreamCredentialsRejectedError extends GatewayError {
  constructor(status: 401 | 403, upstream: string) {
    super(
      status === 401 ? 'upstream_unauthorized' : 'upstream_forbidden',
      status,
      status === 401 ? 'Token rejected' : 'Token not allowed',
      {
        detail: `Cannot get friend cards: the ${upstream} service answered ${status} to the token`,
        // API.md §3: every 401 names the scheme to authenticate with.
        headers: status === 401 ? { 'WWW-Authenticate': 'XBL3.0' } : {},
      },
    );
  }
}

/** 502 (or 504 when every part timed out): no upstream part could be had. */
export class AllUpstreamsFailedError extends GatewayError {
  constructor(kinds: readonly FailureKind[]) {
    const allTimedOut = kinds.length > 0 && kinds.every((kind) => kind === 'timeout');
    super(
      allTimedOut ? 'upstreams_timed_out' : 'upstreams_failed',
      allTimedOut ? 504 : 502,
      allTimedOut ? 'Upstreams timed out' : 'Upstreams failed',
      { detail: `Cannot get friend cards: every upstream part failed (${kinds.join(', ')})` },
    );
  }
}

/** 429: the upstreams throttled this caller and nothing could be served. */
export class ThrottledError extends GatewayError {
  constructor(retryAfterSeconds: number, detail: string) {
    super('throttled', 429, 'Too many requests', {
      detail,
      headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    });
  }
}

/** 429: the caller made more card requests than `RATE_LIMIT_PER_CALLER` in the window. */
export class RateLimitedError extends GatewayError {
  constructor(
    limit: number,
    retryAfterSeconds: number,
    rateLimitHeaders: Readonly<Record<string, string>>,
  ) {
    super('rate_limited', 429, 'Rate limit exceeded', {
      detail: `Cannot take the request: the caller made more than ${limit} card requests in this window`,
      headers: { ...rateLimitHeaders, 'Retry-After': String(retryAfterSeconds) },
    });
  }
}

/** 503: the gateway is overloaded or shutting down; nothing was sent upstream. */
export class OverloadedError extends GatewayError {
  constructor(detail: string, retryAfterSeconds = 1) {
    super('overloaded', 503, 'Service overloaded', {
      detail,
      headers: { 'Retry-After': String(retryAfterSeconds) },
    });
  }
}

/** 404: no such path. */
export class NotFoundError extends GatewayError {
  constructor(path: string) {
    super('not_found', 404, 'Not found', { detail: `No resource at '${path}'` });
  }
}

/** 405: a known path asked with a method it does not serve. */
export class MethodNotAllowedError extends GatewayError {
  constructor(method: string, allowed: readonly string[]) {
    super('method_not_allowed', 405, 'Method not allowed', {
      detail: `Method '${method}' is not allowed here: use ${allowed.join(', ')}`,
      headers: { Allow: allowed.join(', ') },
    });
  }
}

/** 414: the request URL is longer than the gateway accepts. */
export class UriTooLongError extends GatewayError {
  constructor(maxBytes: number) {
    super('uri_too_long', 414, 'URI too long', {
      detail: `The request URL is longer than ${maxBytes} bytes`,
    });
  }
}
