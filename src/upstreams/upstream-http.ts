import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { FailureKind } from '../errors.js';
import type { UpstreamName, Xuid } from '../xbl-vocabulary.js';
import type { CallerThrottle } from './caller-throttle.js';
import { buildXblHeaders } from './xbl-headers.js';
import type { CallContext } from './xbl-headers.js';

/** Why one upstream part failed: the contract's code plus the upstream status when there was one. */
export interface PartFailure {
  readonly kind: FailureKind;
  readonly status?: number;
  /** From the upstream's `Retry-After` on a 429, in seconds. */
  readonly retryAfterSeconds?: number;
  /** The original error, for logs only. */
  readonly cause?: unknown;
}

/** What one upstream call gave: data, or a failure as data (STYLE.md 16). */
export type UpstreamOutcome<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly failure: PartFailure };

/** Options of one upstream's connection pool; every bound is required (STYLE.md 23). */
export interface UpstreamPoolOptions {
  readonly baseUrl: string;
  readonly connections: number;
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
}

/** Options every upstream client takes: pool bounds, batch size, the shared throttle memory. */
export interface UpstreamClientOptions extends UpstreamPoolOptions {
  readonly batchSize: number;
  readonly throttle: CallerThrottle;
}

/** A keep-alive pool to one upstream origin, with the base path its fixed paths hang under. */
export interface UpstreamPool {
  readonly pool: Pool;
  readonly basePath: string;
  readonly maxBodyBytes: number;
  /** Ends every connection at once, cutting calls still running: used when the process stops. */
  close(): Promise<void>;
}

/** Builds the pool of one upstream, refusing unbounded options. */
export function createUpstreamPool(options: UpstreamPoolOptions): UpstreamPool {
  for (const key of ['connections', 'timeoutMs', 'maxBodyBytes'] as const) {
    const value = options[key];
    if (!Number.isInteger(value) || value <= 0) {
      throw new TypeError(`Cannot create upstream pool: ${key} must be a positive integer`);
    }
  }
  const url = new URL(options.baseUrl);
  const pool = new Pool(url.origin, {
    connections: options.connections,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    connectTimeout: options.timeoutMs,
    keepAliveTimeout: 30_000,
  });
  return {
    pool,
    basePath: url.pathname.replace(/\/+$/, ''),
    maxBodyBytes: options.maxBodyBytes,
    close: () => pool.destroy(),
  };
}

/** One JSON POST: where to, with what, and how to validate the answer. */
export interface PostJsonRequest<T> {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: unknown;
  readonly signal: AbortSignal;
  readonly schema: z.ZodType<T>;
  /** Child logger bound to the upstream's name; one line per call, no bodies, no tokens. */
  readonly logger: Logger;
  /** How many XUIDs the call carries, for the log line. */
  readonly xuidCount: number;
}

/**
 * POSTs JSON to a fixed path under the upstream's base and validates the answer. Never throws:
 * transport errors, non-200 statuses, oversize bodies and wrong shapes come back as failures.
 */
export async function postJson<T>(
  upstream: UpstreamPool,
  request: PostJsonRequest<T>,
): Promise<UpstreamOutcome<T>> {
  const startedAt = performance.now();
  const { outcome, xblCorrelationId } = await send(upstream, request);
  const durationMs = Math.round(performance.now() - startedAt);
  const { logger, xuidCount } = request;
  if (outcome.ok) {
    logger.debug(
      { xuidCount, durationMs, status: 200, xblCorrelationId },
      'upstream call finished',
    );
  } else {
    const { kind, status, cause } = outcome.failure;
    const err = cause instanceof Error ? { type: cause.name, code: codeOf(cause) } : undefined;
    logger.warn(
      { xuidCount, durationMs, status, kind, err, xblCorrelationId },
      'upstream call failed',
    );
  }
  return outcome;
}

function codeOf(error: Error): unknown {
  return (error as { code?: unknown }).code;
}

interface SendResult<T> {
  readonly outcome: UpstreamOutcome<T>;
  /** The upstream's own correlation id (UPSTREAMS.md: log it when present). */
  readonly xblCorrelationId?: string | undefined;
}

async function send<T>(
  upstream: UpstreamPool,
  request: PostJsonRequest<T>,
): Promise<SendResult<T>> {
  let response: Dispatcher.ResponseData;
  try {
    response = await upstream.pool.request({
      method: 'POST',
      path: upstream.basePath + request.path,
      headers: request.headers,
      body: JSON.stringify(request.body),
      signal: request.signal,
    });
  } catch (error) {
    return { outcome: failed(classifyFailure(error)) };
  }
  const { statusCode } = response;
  const correlation = response.headers['x-xblcorrelationid'];
  const xblCorrelationId = typeof correlation === 'string' ? correlation : undefined;
  const result = (outcome: UpstreamOutcome<T>): SendResult<T> => ({ outcome, xblCorrelationId });
  if (statusCode !== 200) {
    // Read and drop the small error body so the keep-alive connection is reused.
    response.body.dump().catch(() => undefined);
    if (statusCode === 429) {
      const retryAfterSeconds = parseRetryAfter(response.headers['retry-after'], Date.now()) ?? 1;
      return result(failed({ kind: 'throttled', status: statusCode, retryAfterSeconds }));
    }
    return result(failed({ kind: 'unavailable', status: statusCode }));
  }
  let json: unknown;
  try {
    json = JSON.parse(await readCapped(response, upstream.maxBodyBytes));
  } catch (error) {
    return result(failed(classifyFailure(error)));
  }
  const parsed = request.schema.safeParse(json);
  if (!parsed.success) {
    return result(failed({ kind: 'bad_response', cause: parsed.error }));
  }
  return result({ ok: true, value: parsed.data });
}

function failed(failure: PartFailure): { ok: false; failure: PartFailure } {
  return { ok: false, failure };
}

/** Thrown while reading a body that grows past the cap; classified as `bad_response`. */
class BodyTooLargeError extends Error {
  readonly code = 'GATEWAY_BODY_TOO_LARGE';
}

async function readCapped(response: Dispatcher.ResponseData, maxBytes: number): Promise<string> {
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    // Destroying an unread body makes undici emit 'error' on the next tick; without a listener
    // that would crash the process (API.md §5 rule 7).
    response.body.on('error', () => undefined).destroy();
    throw new BodyTooLargeError(`Upstream body of ${declared} bytes exceeds ${maxBytes}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      response.body.destroy();
      throw new BodyTooLargeError(`Upstream body exceeds ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_ABORTED',
  'ABORT_ERR',
  'ETIMEDOUT',
]);

/**
 * Maps a transport error to the contract's failure kind by its `code` or `name`, never by
 * message text (STYLE.md 17). An aborted call is the request deadline firing: `timeout`.
 */
export function classifyFailure(error: unknown): PartFailure {
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  if (code === 'GATEWAY_BODY_TOO_LARGE' || name === 'SyntaxError') {
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

/**
 * Splits `items` into batches of at most `batchSize`, runs them concurrently and joins the
 * results. One failed batch fails the part; a credential rejection wins so it can propagate.
 */
async function inBatches<I, R>(
  items: readonly I[],
  batchSize: number,
  call: (batch: readonly I[]) => Promise<UpstreamOutcome<readonly R[]>>,
): Promise<UpstreamOutcome<R[]>> {
  const batches: (readonly I[])[] = [];
  for (let start = 0; start < items.length; start += batchSize) {
    batches.push(items.slice(start, start + batchSize));
  }
  const outcomes = await Promise.all(batches.map(call));
  const failures = outcomes.flatMap((outcome) => (outcome.ok ? [] : [outcome.failure]));
  const first = failures.find((f) => f.status === 401 || f.status === 403) ?? failures[0];
  if (first) return { ok: false, failure: first };
  return { ok: true, value: outcomes.flatMap((outcome) => (outcome.ok ? outcome.value : [])) };
}

/** One fixed upstream call: where it goes, its version headers, body and answer schema. */
export interface XblCall<T, R> {
  readonly upstream: UpstreamName;
  /** Fixed path under the base URL; no client query string ever reaches it. */
  readonly path: string;
  readonly versionHeaders: Readonly<Record<string, string>>;
  readonly schema: z.ZodType<T>;
  readonly batchSize: number;
  readonly throttle: CallerThrottle;
  /** The JSON body for one batch of XUIDs. */
  toBody(batch: readonly Xuid[]): unknown;
  /** The entries of a validated answer. */
  pick(answer: T): readonly R[];
}

/**
 * Sends `call` for `xuids` in concurrent batches with the request's headers and deadline. A
 * caller this upstream throttled is not sent until its `Retry-After` has passed.
 */
export async function sendInBatches<T, R>(
  upstream: UpstreamPool,
  call: XblCall<T, R>,
  xuids: readonly Xuid[],
  context: CallContext,
): Promise<UpstreamOutcome<R[]>> {
  const logger = context.logger.child({ upstream: call.upstream });
  const waitSeconds = call.throttle.remainingSeconds(call.upstream, context.callerId);
  if (waitSeconds > 0) {
    logger.debug({ retryAfterSeconds: waitSeconds }, 'upstream call held back: caller throttled');
    return { ok: false, failure: { kind: 'throttled', retryAfterSeconds: waitSeconds } };
  }
  const outcome = await inBatches(xuids, call.batchSize, async (batch) => {
    const outcome = await postJson(upstream, {
      path: call.path,
      headers: buildXblHeaders(context, { versionHeaders: call.versionHeaders }),
      body: call.toBody(batch),
      signal: context.signal,
      schema: call.schema,
      logger,
      xuidCount: batch.length,
    });
    return outcome.ok ? { ok: true, value: call.pick(outcome.value) } : outcome;
  });
  if (!outcome.ok && outcome.failure.kind === 'throttled') {
    call.throttle.record(call.upstream, context.callerId, outcome.failure.retryAfterSeconds ?? 1);
  }
  return outcome;
}
