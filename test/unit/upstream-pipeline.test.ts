import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { z } from 'zod';
import type { CallContext } from '../../src/call-context.js';
import { createLogger } from '../../src/http/request-logging.js';
import { createCallerThrottle } from '../../src/upstreams/caller-throttle.js';
import { callLogging } from '../../src/upstreams/policies/call-logging.js';
import { callerThrottleGate } from '../../src/upstreams/policies/caller-throttle-gate.js';
import { deadline } from '../../src/upstreams/policies/deadline.js';
import { composePolicies } from '../../src/upstreams/upstream-pipeline.js';
import type {
  SendUpstream,
  UpstreamEndpoint,
  UpstreamOutcome,
  UpstreamPolicy,
  UpstreamRequest,
} from '../../src/upstreams/upstream-pipeline.js';
import { createSocialClient } from '../../src/upstreams/social-client.js';
import { upstreamPolicies } from '../../src/upstreams/upstream-policies.js';
import { createRetryBudget } from '../../src/upstreams/retry-budget.js';
import { createUpstreamCircuit } from '../../src/upstreams/upstream-circuit.js';
import { startFakeUpstreams } from '../helpers/fake-upstreams.js';
import { AUTHORIZATION, XUIDS } from '../helpers/test-app.js';

const ENDPOINT: UpstreamEndpoint<{ ok: boolean }> = {
  upstream: 'social',
  path: '/users/me/people/xuids',
  versionHeaders: {},
  schema: z.object({ ok: z.boolean() }),
};

/** A context with a capturing logger; `lines` receives every log line, parsed. */
function createContext(
  options: { callerId?: string; signal?: AbortSignal; level?: 'info' | 'debug' } = {},
) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  const context: CallContext = {
    authorization: AUTHORIZATION,
    callerId: options.callerId ?? 'caller-1',
    requestId: 'request-1',
    trace: { traceId: '0af7651916cd43dd8448eb211c80319c', flags: '01' },
    signal: options.signal ?? new AbortController().signal,
    deadlineAtMs: performance.now() + 1000,
    logger: createLogger({ level: options.level ?? 'info', destination }),
    nextCorrelationVector: () => 'cv.1',
  };
  return { context, lines };
}

function requestWith(
  context: CallContext,
  endpoint: UpstreamEndpoint<{ ok: boolean }> = ENDPOINT,
): UpstreamRequest<{ ok: boolean }> {
  return { endpoint, body: { xuids: ['1'] }, xuidCount: 1, context };
}

/** A terminal step that counts its calls and answers `outcome`. */
function terminal(outcome: UpstreamOutcome<unknown>) {
  const seen: UpstreamRequest<unknown>[] = [];
  const send = (<T>(request: UpstreamRequest<T>) => {
    seen.push(request);
    return Promise.resolve(outcome as UpstreamOutcome<T>);
  }) as SendUpstream;
  return { send, seen };
}

describe('composePolicies', () => {
  test('when policies are composed, the first listed is outermost and each wraps the next', async () => {
    const order: string[] = [];
    const named =
      (name: string): UpstreamPolicy =>
      (next) =>
      async <T>(request: UpstreamRequest<T>) => {
        order.push(`${name} in`);
        const outcome = await next(request);
        order.push(`${name} out`);
        return outcome;
      };
    const { send, seen } = terminal({ ok: true, value: { ok: true } });
    const { context } = createContext();

    const outcome = await composePolicies([named('a'), named('b')], send)(requestWith(context));

    assert.deepEqual(order, ['a in', 'b in', 'b out', 'a out'], 'a wraps b wraps the transport');
    assert.equal(seen.length, 1, 'the transport is called once');
    assert.deepEqual(outcome, { ok: true, value: { ok: true } }, "the transport's outcome passes");
  });
});

describe('deadline policy', () => {
  test('when the request deadline has passed, the call is not sent and the part is timeout', async () => {
    const controller = new AbortController();
    controller.abort();
    const { send, seen } = terminal({ ok: true, value: { ok: true } });
    const { context } = createContext({ signal: controller.signal });

    const outcome = await deadline()(send)(requestWith(context));

    assert.equal(seen.length, 0, 'nothing is sent past the deadline');
    assert.deepEqual(outcome, { ok: false, failure: { kind: 'timeout' } }, 'the part timed out');
  });

  test('when the deadline has not passed, the call goes through unchanged', async () => {
    const { send, seen } = terminal({ ok: true, value: { ok: true } });
    const { context } = createContext();

    const outcome = await deadline()(send)(requestWith(context));

    assert.equal(seen.length, 1, 'the call is sent');
    assert.equal(outcome.ok, true, 'its outcome is passed on');
  });
});

describe('caller throttle gate policy', () => {
  test("when an upstream answers 429 to one caller, that caller's next call to it is held back", async () => {
    let nowMs = 10_000;
    const throttle = createCallerThrottle({ maxCallers: 10, now: () => nowMs });
    const throttled = terminal({
      ok: false,
      failure: { kind: 'throttled', status: 429, retryAfterSeconds: 3 },
    });
    const { context } = createContext({ callerId: 'player-a' });
    await callerThrottleGate(throttle)(throttled.send)(requestWith(context));
    const healthy = terminal({ ok: true, value: { ok: true } });
    const gated = callerThrottleGate(throttle)(healthy.send);

    nowMs += 1000;
    const held = await gated(requestWith(context));
    const other = await gated(requestWith(createContext({ callerId: 'player-b' }).context));
    const otherUpstream = await gated(requestWith(context, { ...ENDPOINT, upstream: 'privacy' }));
    nowMs += 2000;
    const afterRetryAfter = await gated(requestWith(context));

    assert.deepEqual(
      held,
      { ok: false, failure: { kind: 'throttled', retryAfterSeconds: 2 } },
      'the throttled caller is held back for the rest of Retry-After, with no status',
    );
    assert.equal(other.ok, true, 'another caller is not held back');
    assert.equal(otherUpstream.ok, true, 'the same caller may still call another upstream');
    assert.equal(afterRetryAfter.ok, true, 'after Retry-After the caller is sent again');
    assert.equal(healthy.seen.length, 3, 'only the held-back call was not sent');
  });
});

describe('call logging policy', () => {
  test('when a call fails, one warn line names upstream, kind and status, and no token', async () => {
    const { send } = terminal({ ok: false, failure: { kind: 'unavailable', status: 503 } });
    const { context, lines } = createContext();

    await callLogging()(send)(requestWith(context));

    assert.equal(lines.length, 1, 'one line per call');
    const line = lines[0] ?? {};
    assert.equal(line.msg, 'upstream call failed', 'the message is constant');
    assert.equal(line.level, 'warn', 'a failure is logged at warn');
    assert.equal(line.upstream, 'social', 'the line names the upstream');
    assert.equal(line.kind, 'unavailable', 'the line carries the failure kind');
    assert.equal(line.status, 503, 'the line carries the upstream status');
    assert.equal(typeof line.durationMs, 'number', 'the line carries the duration');
    assert.doesNotMatch(JSON.stringify(lines), /test-token/, 'the token is never logged');
  });

  test('when a call succeeds, a line is written at debug level only', async () => {
    const { send } = terminal({ ok: true, value: { ok: true } });
    const atInfo = createContext({ level: 'info' });
    const atDebug = createContext({ level: 'debug' });

    await callLogging()(send)(requestWith(atInfo.context));
    await callLogging()(send)(requestWith(atDebug.context));

    assert.equal(atInfo.lines.length, 0, 'nothing is logged for a success at info');
    assert.equal(atDebug.lines[0]?.msg, 'upstream call finished', 'a success is logged at debug');
  });
});

describe('a client built on the pipeline', () => {
  test('when one more policy is listed, it sees every batch call of a real client over HTTP', async (t) => {
    const upstreams = await startFakeUpstreams();
    t.after(() => upstreams.close());
    const seen: { upstream: string; xuidCount: number; ok: boolean }[] = [];
    const recording: UpstreamPolicy =
      (next) =>
      async <T>(request: UpstreamRequest<T>) => {
        const outcome = await next(request);
        seen.push({
          upstream: request.endpoint.upstream,
          xuidCount: request.xuidCount,
          ok: outcome.ok,
        });
        return outcome;
      };
    const throttle = createCallerThrottle({ maxCallers: 10 });
    const social = createSocialClient({
      baseUrl: upstreams.env.XBL_SOCIAL_URL,
      connections: 2,
      timeoutMs: 1000,
      maxBodyBytes: 65_536,
      batchSize: 2,
      policies: [
        ...upstreamPolicies({
          retries: 2,
          maxConcurrent: 2,
          maxQueued: 4,
          throttle,
          circuit: createUpstreamCircuit({ failureThreshold: 5, halfOpenAfterMs: 1000 }),
          retryBudget: createRetryBudget({ ratio: 0.2, windowMs: 10_000, minRetriesPerSecond: 1 }),
        }),
        recording,
      ],
    });
    t.after(() => social.close());
    const { context } = createContext();

    const outcome = await social.getPeople([...XUIDS], context);

    assert.equal(outcome.ok, true, 'the call succeeds through the whole chain');
    assert.equal(upstreams.callsTo('social').length, 2, 'three XUIDs in batches of two: two calls');
    assert.deepEqual(
      seen.map((call) => call.xuidCount).sort(),
      [1, 2],
      'the added policy sees each batch call with its XUID count',
    );
    assert.ok(
      seen.every((call) => call.upstream === 'social' && call.ok),
      'each seen call names its upstream and its outcome',
    );
  });
});
