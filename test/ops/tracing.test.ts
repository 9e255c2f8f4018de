import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startGatewayProcess } from '../helpers/child-process.js';
import type { StartedProcess } from '../helpers/child-process.js';
import { allowEverything, startFakeUpstreams } from '../helpers/fake-upstreams.js';
import type { FakeUpstreams, RecordedCall } from '../helpers/fake-upstreams.js';
import { startOtlpReceiver } from '../helpers/otlp-receiver.js';
import type { ReceivedSpan } from '../helpers/otlp-receiver.js';
import { AUTHORIZATION } from '../helpers/test-app.js';

/** The caller's trace and span, as a client's `traceparent` carries them. */
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
/** A trace whose caller decided not to sample it (flags 00). */
const UNSAMPLED_TRACE_ID = '0af7651916cd43dd8448eb211c80319c';

const SERVER = 2;
const CLIENT = 3;
const STATUS_ERROR = 2;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** `GET path` on the gateway with the caller's `Authorization` and `headers`; the status. */
async function get(port: number, path: string, headers: Record<string, string>): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${String(port)}${path}`, {
    headers: { Authorization: AUTHORIZATION, ...headers },
  });
  await response.arrayBuffer();
  return response.status;
}

/** SIGTERM, then the exit code once the process has drained and flushed. */
async function stop(gateway: StartedProcess): Promise<number | null> {
  gateway.child.kill('SIGTERM');
  return gateway.exited;
}

/** The server span of the request with id `requestId`. */
function serverSpanOf(spans: readonly ReceivedSpan[], requestId: string): ReceivedSpan {
  const found = spans.filter(
    (span) => span.kind === SERVER && span.attributes['gateway.request_id'] === requestId,
  );
  assert.equal(found.length, 1, `request '${requestId}' has exactly one server span`);
  return found[0]!;
}

/** The client spans under `parent`, in start order of their upstream calls' attempts. */
function clientSpansUnder(spans: readonly ReceivedSpan[], parent: ReceivedSpan): ReceivedSpan[] {
  return spans.filter((span) => span.kind === CLIENT && span.parentSpanId === parent.spanId);
}

function callsOf(upstreams: FakeUpstreams, requestId: string): RecordedCall[] {
  return upstreams.calls.filter((call) => call.headers['x-request-id'] === requestId);
}

/** Trace id, span id and flags of the `traceparent` an upstream received. */
function traceparentOf(call: RecordedCall): { traceId: string; spanId: string; flags: string } {
  const header = call.headers.traceparent;
  const match = typeof header === 'string' ? TRACEPARENT.exec(header) : null;
  assert.ok(
    match,
    `the ${call.upstream} call carries a valid traceparent, got '${String(header)}'`,
  );
  return { traceId: match[1]!, spanId: match[2]!, flags: match[3]! };
}

/** Log lines of request `requestId` (pino-http's `req.id`). */
function logLinesOf(gateway: StartedProcess, requestId: string): Record<string, unknown>[] {
  return gateway.lines.filter(
    (line): line is Record<string, unknown> =>
      typeof line === 'object' &&
      line !== null &&
      (line as { reqId?: unknown }).reqId === requestId,
  );
}

test('with an OTLP endpoint set, a request exports one server span in the caller trace and one client span per upstream call', async (t) => {
  const receiver = await startOtlpReceiver(t);
  let hasFailedOnce = false;
  const upstreams = await startFakeUpstreams({
    // The first privacy call of request 'retried' gets a 503, so the gateway retries it once.
    privacy: (call) => {
      if (call.headers['x-request-id'] !== 'retried' || hasFailedOnce) return allowEverything(call);
      hasFailedOnce = true;
      return { status: 503 };
    },
  });
  const gateway = startGatewayProcess(t, upstreams, {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    // Longer than the test: spans reach the receiver only through the flush at shutdown.
    OTEL_BSP_SCHEDULE_DELAY: '60000',
    OTEL_SERVICE_NAME: 'gateway-under-test',
  });
  const port = Number((await gateway.waitForLog('gateway listening')).port);

  const statuses = [
    await get(port, '/friends-with-profiles?xuids=2533274791381930,2533274792986770', {
      traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`,
      'x-request-id': 'traced',
    }),
    await get(port, '/friends-with-profiles?xuids=2533274790000001', { 'x-request-id': 'retried' }),
    await get(port, '/friends-with-profiles?xuids=2533274790000002', {
      traceparent: `00-${UNSAMPLED_TRACE_ID}-${PARENT_ID}-00`,
      'x-request-id': 'unsampled',
    }),
    await get(port, '/healthz', { 'x-request-id': 'health' }),
  ];
  const exportsBeforeShutdown = receiver.requestCount();
  const code = await stop(gateway);
  const { spans } = receiver;

  assert.deepEqual(statuses, [200, 200, 200, 200], 'every request is answered 200');
  assert.equal(code, 0, 'the gateway exits 0 after draining');
  assert.equal(exportsBeforeShutdown, 0, 'nothing is exported before the batch delay');
  assert.ok(spans.length > 0, 'the spans are flushed to the receiver at shutdown');
  assert.ok(
    spans.every((span) => span.resource['service.name'] === 'gateway-under-test'),
    'every span names the service of OTEL_SERVICE_NAME',
  );

  const traced = serverSpanOf(spans, 'traced');
  assert.equal(traced.traceId, TRACE_ID, "the server span continues the caller's trace");
  assert.equal(traced.parentSpanId, PARENT_ID, "the server span's parent is the caller's span");
  assert.equal(traced.name, 'GET /friends-with-profiles', 'the server span is named by route');
  assert.deepEqual(
    [
      traced.attributes['http.request.method'],
      traced.attributes['http.route'],
      traced.attributes['http.response.status_code'],
      traced.attributes['url.path'],
    ],
    ['GET', '/friends-with-profiles', 200, '/friends-with-profiles'],
    'the server span has the HTTP semantic-convention attributes',
  );
  const tracedClients = clientSpansUnder(spans, traced);
  assert.deepEqual(
    tracedClients.map((span) => span.attributes['gateway.upstream.name']).sort(),
    ['privacy', 'profile', 'social'],
    'one client span per upstream call, each a child of the server span',
  );
  for (const span of tracedClients) {
    const upstream = String(span.attributes['gateway.upstream.name']);
    assert.equal(span.traceId, TRACE_ID, `the ${upstream} span is in the caller's trace`);
    assert.deepEqual(
      [
        span.attributes['gateway.upstream.batch_size'],
        span.attributes['gateway.upstream.attempt'],
        span.attributes['gateway.upstream.outcome'],
        span.attributes['http.response.status_code'],
        span.attributes['http.request.method'],
        span.attributes['server.address'],
      ],
      [2, 1, 'ok', 200, 'POST', '127.0.0.1'],
      `the ${upstream} span has batch size, attempt, outcome and status`,
    );
  }
  const tracedCalls = callsOf(upstreams, 'traced');
  assert.equal(tracedCalls.length, 3, 'the traced request made three upstream calls');
  for (const call of tracedCalls) {
    const received = traceparentOf(call);
    const span = tracedClients.find((s) => s.attributes['gateway.upstream.name'] === call.upstream);
    assert.ok(span, `the ${call.upstream} call has a client span`);
    assert.deepEqual(
      received,
      { traceId: TRACE_ID, spanId: span.spanId, flags: '01' },
      `the ${call.upstream} upstream received its client span's id as traceparent parent-id`,
    );
  }
  const accessLine = logLinesOf(gateway, 'traced').find((line) => line.msg === 'request finished');
  assert.ok(accessLine, "the traced request's access line is logged");
  assert.equal(accessLine.trace_id, TRACE_ID, 'the access line carries the trace id');
  assert.equal(accessLine.span_id, traced.spanId, "the access line carries the server span's id");

  const retried = serverSpanOf(spans, 'retried');
  assert.equal(retried.parentSpanId, '', 'without a traceparent the server span starts a trace');
  assert.notEqual(retried.traceId, TRACE_ID, 'a request without traceparent gets its own trace');
  const privacySpans = clientSpansUnder(spans, retried).filter(
    (span) => span.attributes['gateway.upstream.name'] === 'privacy',
  );
  const attempts = privacySpans
    .map((span) => ({
      attempt: span.attributes['gateway.upstream.attempt'],
      outcome: span.attributes['gateway.upstream.outcome'],
      status: span.attributes['http.response.status_code'],
      statusCode: span.statusCode,
      resendCount: span.attributes['http.request.resend_count'],
      spanId: span.spanId,
    }))
    .sort((a, b) => Number(a.attempt) - Number(b.attempt));
  assert.deepEqual(
    attempts.map(({ attempt, outcome, status, statusCode, resendCount }) => ({
      attempt,
      outcome,
      status,
      statusCode,
      resendCount,
    })),
    [
      {
        attempt: 1,
        outcome: 'unavailable',
        status: 503,
        statusCode: STATUS_ERROR,
        resendCount: undefined,
      },
      { attempt: 2, outcome: 'ok', status: 200, statusCode: 0, resendCount: 1 },
    ],
    'the retried privacy call gives two client spans: attempt 1 failed with 503, attempt 2 ok',
  );
  assert.deepEqual(
    callsOf(upstreams, 'retried')
      .filter((call) => call.upstream === 'privacy')
      .map((call) => traceparentOf(call)),
    attempts.map(({ spanId }) => ({ traceId: retried.traceId, spanId, flags: '01' })),
    "each privacy attempt went out with its own client span's id",
  );
  const failedLine = logLinesOf(gateway, 'retried').find(
    (line) => line.msg === 'upstream call failed',
  );
  assert.equal(
    failedLine?.trace_id,
    retried.traceId,
    "the failed attempt's log line carries the request's trace id",
  );

  assert.ok(
    spans.every((span) => span.traceId !== UNSAMPLED_TRACE_ID),
    'a trace the caller did not sample exports no span',
  );
  for (const call of callsOf(upstreams, 'unsampled')) {
    const received = traceparentOf(call);
    assert.equal(
      received.traceId,
      UNSAMPLED_TRACE_ID,
      'an unsampled trace still reaches upstreams',
    );
    assert.equal(received.flags, '00', 'upstreams see the trace as not sampled');
    assert.notEqual(
      received.spanId,
      PARENT_ID,
      "upstreams see the gateway's span, not the caller's",
    );
  }

  const health = serverSpanOf(spans, 'health');
  assert.equal(health.name, 'GET /healthz', 'other routes get a server span named by route');
  assert.equal(clientSpansUnder(spans, health).length, 0, '/healthz calls no upstream');
});

test('with OTEL_SDK_DISABLED=true, nothing is exported and upstreams still get the caller trace id under a fresh span id', async (t) => {
  const receiver = await startOtlpReceiver(t);
  const upstreams = await startFakeUpstreams();
  const gateway = startGatewayProcess(t, upstreams, {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_BSP_SCHEDULE_DELAY: '10',
    OTEL_SDK_DISABLED: 'true',
  });
  const port = Number((await gateway.waitForLog('gateway listening')).port);

  const status = await get(port, '/friends-with-profiles?xuids=2533274791381930', {
    traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`,
    'x-request-id': 'untraced',
  });
  const code = await stop(gateway);

  assert.equal(status, 200, 'the request is answered 200');
  assert.equal(code, 0, 'the gateway exits 0');
  assert.equal(receiver.requestCount(), 0, 'no export is attempted');
  const calls = callsOf(upstreams, 'untraced');
  assert.equal(calls.length, 3, 'the request made three upstream calls');
  const spanIds = calls.map((call) => {
    const received = traceparentOf(call);
    assert.equal(
      received.traceId,
      TRACE_ID,
      `the ${call.upstream} call continues the caller's trace`,
    );
    assert.equal(received.flags, '01', `the ${call.upstream} call keeps the caller's flags`);
    return received.spanId;
  });
  assert.ok(
    spanIds.every((id) => id !== PARENT_ID && id !== '0000000000000000'),
    "each call carries a fresh span id, not the caller's",
  );
  assert.equal(new Set(spanIds).size, 3, 'each call carries its own span id');
  assert.ok(
    gateway.lines.every((line) => typeof line !== 'object' || !('trace_id' in (line ?? {}))),
    'no log line carries a trace id',
  );
});

test('when the collector never answers, shutdown waits at most a second for the last export and exits 0', async (t) => {
  const receiver = await startOtlpReceiver(t, { hang: true });
  const upstreams = await startFakeUpstreams();
  const gateway = startGatewayProcess(t, upstreams, {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_BSP_SCHEDULE_DELAY: '60000',
  });
  const port = Number((await gateway.waitForLog('gateway listening')).port);
  await get(port, '/healthz', {});

  const startedAt = Date.now();
  const code = await stop(gateway);
  const tookMs = Date.now() - startedAt;

  assert.equal(code, 0, 'the gateway exits 0');
  assert.equal(receiver.requestCount(), 1, 'the last export was attempted at shutdown');
  assert.ok(
    tookMs < 3000,
    `the hung export holds the exit about a second (took ${String(tookMs)} ms)`,
  );
  assert.ok(
    gateway.lines.some(
      (line) => (line as { msg?: unknown }).msg === 'tracing flush overran: queued spans dropped',
    ),
    'the dropped spans are logged',
  );
});
