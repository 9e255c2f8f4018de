import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { buildXblHeaders } from './xbl-headers.js';
import { composePolicies, failed } from './upstream-pipeline.js';
import type {
  PartFailure,
  SendUpstream,
  UpstreamOutcome,
  UpstreamPolicy,
  UpstreamRequest,
} from './upstream-pipeline.js';

/** Options of one upstream's connection pool; every bound is required (STYLE.md 23). */
export interface UpstreamPoolOptions {
  readonly baseUrl: string;
  readonly connections: number;
  readonly timeoutMs: number;
  /** A larger answer is `bad_response`; undici stops reading past it (API.md §5). */
  readonly maxBodyBytes: number;
}

/** Options every upstream client takes: pool bounds, batch size and the call pipeline. */
export interface UpstreamClientOptions extends UpstreamPoolOptions {
  readonly batchSize: number;
  /** Policies every call passes through, outermost first (`upstream-policies.ts`). */
  readonly policies: readonly UpstreamPolicy[];
}

/** A keep-alive pool to one upstream origin and the plain "send this call" over it. */
export interface UpstreamTransport {
  /** The innermost step of the call pipeline: one HTTP exchange, classified and validated. */
  readonly send: SendUpstream;
  /** Ends every connection at once, cutting calls still running: used when the process stops. */
  readonly close: () => Promise<void>;
}

/**
 * Builds the pool of one upstream, refusing unbounded options, and its transport: POST the JSON
 * body to the fixed path with the XBL headers and the request's signal, then turn the answer
 * into an outcome. Never throws: transport errors, non-200 statuses, oversize bodies and wrong
 * shapes come back as failures (STYLE.md 16–17).
 */
export function createUpstreamTransport(options: UpstreamPoolOptions): UpstreamTransport {
  for (const key of ['connections', 'timeoutMs', 'maxBodyBytes'] as const) {
    const value = options[key];
    if (!Number.isInteger(value) || value <= 0) {
      throw new TypeError(`Cannot create upstream pool: ${key} must be a positive integer`);
    }
  }
  const url = new URL(options.baseUrl);
  const basePath = url.pathname.replace(/\/+$/, '');
  const pool = new Pool(url.origin, {
    connections: options.connections,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    connectTimeout: options.timeoutMs,
    keepAliveTimeout: 30_000,
    maxResponseSize: options.maxBodyBytes,
  });

  async function send<T>(request: UpstreamRequest<T>): Promise<UpstreamOutcome<T>> {
    const { endpoint, context } = request;
    let response: Dispatcher.ResponseData;
    try {
      response = await pool.request({
        method: 'POST',
        path: basePath + endpoint.path,
        headers: buildXblHeaders(context, endpoint.versionHeaders, request.traceparent),
        body: JSON.stringify(request.body),
        signal: context.signal,
      });
    } catch (error) {
      return failed(classifyFailure(error));
    }
    const { statusCode, headers } = response;
    const correlation = headers['x-xblcorrelationid'];
    const xblCorrelationId = typeof correlation === 'string' ? correlation : undefined;
    if (statusCode !== 200) {
      // Read and drop the small error body so the keep-alive connection is reused.
      response.body.dump().catch(() => undefined);
      if (statusCode === 429) {
        const retryAfterSeconds = parseRetryAfter(headers['retry-after'], Date.now()) ?? 1;
        return failed({
          kind: 'throttled',
          status: statusCode,
          retryAfterSeconds,
          xblCorrelationId,
        });
      }
      return failed({ kind: 'unavailable', status: statusCode, xblCorrelationId });
    }
    let json: unknown;
    try {
      json = await response.body.json();
    } catch (error) {
      return failed({ ...classifyFailure(error), xblCorrelationId });
    }
    const parsed = endpoint.schema.safeParse(json);
    if (!parsed.success) {
      return failed({ kind: 'bad_response', cause: parsed.error, xblCorrelationId });
    }
    return { ok: true, value: parsed.data, xblCorrelationId };
  }

  return { send, close: () => pool.destroy() };
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_ABORTED',
  'ABORT_ERR',
  'ETIMEDOUT',
]);

/** Bodies that cannot be used: past the size cap (undici stops reading) or not JSON. */
const BAD_BODY_CODES = new Set(['UND_ERR_RES_EXCEEDED_MAX_SIZE']);

/**
 * Maps a transport error to the contract's failure kind by its `code` or `name`, never by
 * message text (STYLE.md 17). An aborted call is the request deadline firing: `timeout`.
 */
export function classifyFailure(error: unknown): PartFailure {
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  if ((typeof code === 'string' && BAD_BODY_CODES.has(code)) || name === 'SyntaxError') {
    return { kind: 'bad_response', cause: error };
  }
  if (
    name === 'TimeoutError' ||
    name === 'AbortError' ||
    (typeof code === 'string' && TIMEOUT_CODES.has(code))
  ) {
    return { kind: 'timeout', cause: error };
  }
  return { kind: 'unavailable', cause: error };
}

/** Parses `Retry-After` (delta seconds or an HTTP date) into whole seconds from `nowMs`. */
export function parseRetryAfter(
  header: string | string[] | undefined,
  nowMs: number,
): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return clampRetryAfter(Number(trimmed));
  // Only the HTTP-date forms of RFC 9110 §5.6.7: Date.parse alone accepts almost any text.
  if (!HTTP_DATE_FORMS.some((form) => form.test(trimmed))) return undefined;
  const dateMs = Date.parse(trimmed);
  if (Number.isNaN(dateMs)) return undefined;
  return clampRetryAfter(Math.ceil((dateMs - nowMs) / 1000));
}

/** IMF-fixdate, then the obsolete RFC 850 and asctime forms. */
const HTTP_DATE_FORMS = [
  /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/,
  /^[A-Z][a-z]+, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT$/,
  /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/,
];

/** The longest wait honoured: the sustain window of Xbox Live's rate limits (UPSTREAMS.md). */
const MAX_RETRY_AFTER_SECONDS = 300;

function clampRetryAfter(seconds: number): number {
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, seconds));
}

/** One upstream's transport wrapped in the client's policies: what a client sends through. */
export function createUpstreamSender(options: UpstreamClientOptions): UpstreamTransport {
  const transport = createUpstreamTransport(options);
  return { send: composePolicies(options.policies, transport.send), close: transport.close };
}
