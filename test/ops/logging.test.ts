import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import supertest from 'supertest';
import { createLogger, GATEWAY_LOG_NAME } from '../../src/http/request-logging.js';
import { allProfiles, allowEverything, emptyPeople } from '../helpers/fake-upstreams.js';
import type { Responder } from '../helpers/fake-upstreams.js';
import { AUTHORIZATION, XUIDS, gatewayFor, listenFor } from '../helpers/test-app.js';
import type { TestGateway } from '../helpers/test-app.js';

/** The caller's token and userhash, neither of which may reach a log line. */
const TOKEN = AUTHORIZATION.slice(AUTHORIZATION.indexOf(';') + 1);
const USERHASH = /x=([^;]+);/.exec(AUTHORIZATION)?.[1] ?? '';

/** 100 distinct XUIDs, the most one request may ask for. */
const HUNDRED_XUIDS = Array.from({ length: 100 }, (_, i) => String(2533274790000000 + i * 7919));

/** The bound a 100-XUID request's access line must stay under. */
const MAX_ACCESS_LINE_BYTES = 600;

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The access lines written so far. */
function accessLines(gw: TestGateway): Record<string, unknown>[] {
  return gw.logs.filter(
    (line) => line.msg === 'request finished' || line.msg === 'request aborted',
  );
}

/** The one access line written so far, failing when there is not exactly one. */
function onlyAccessLine(gw: TestGateway): Record<string, unknown> {
  const lines = accessLines(gw);
  assert.equal(lines.length, 1, `one access line per request, got ${lines.length}`);
  return lines[0] ?? {};
}

/** Waits until `gw` has written `count` access lines (they are written when the socket closes). */
async function accessLinesWritten(gw: TestGateway, count: number): Promise<void> {
  const deadline = Date.now() + 2000;
  while (accessLines(gw).length < count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('the access line', () => {
  test('when a 100-XUID request succeeds, one compact info line names method, route, status, duration, request id and counts', async (t) => {
    const gw = await gatewayFor(t, { env: { LOG_LEVEL: 'info' } });

    const res = await gw
      .getCards(`xuids=${HUNDRED_XUIDS.join(',')}&permissions=ViewTargetProfile`)
      .set('Cookie', 'session=cookie-secret')
      .set('X-Request-Id', 'client-req-42');
    await accessLinesWritten(gw, 1);

    assert.equal(res.status, 200, `status is 200, got ${res.status}`);
    const line = onlyAccessLine(gw);
    const raw =
      gw
        .logText()
        .split('\n')
        .find((text) => text.includes('"request finished"')) ?? '';
    assert.deepEqual(
      Object.keys(line),
      [
        'level',
        'time',
        'pid',
        'hostname',
        'name',
        'reqId',
        'method',
        'route',
        'status',
        'durationMs',
        'xuidCount',
        'failedParts',
        'msg',
      ],
      'exactly these fields, in this order',
    );
    assert.equal(line.level, 'info', 'a 200 is logged at info');
    assert.match(String(line.time), ISO_TIME, 'the time is ISO 8601 UTC');
    assert.equal(line.name, GATEWAY_LOG_NAME, 'the line names the gateway');
    assert.equal(line.reqId, 'client-req-42', "the client's valid X-Request-Id is the request id");
    assert.equal(line.method, 'GET', 'the method');
    assert.equal(line.route, '/friends-with-profiles', 'the route pattern, not the URL');
    assert.equal(line.status, 200, 'the status');
    assert.equal(typeof line.durationMs, 'number', 'the duration in ms');
    assert.equal(line.xuidCount, 100, 'the count of XUIDs asked');
    assert.equal(line.failedParts, 0, 'no part failed');
    assert.ok(
      Buffer.byteLength(raw) < MAX_ACCESS_LINE_BYTES,
      `the line is under ${MAX_ACCESS_LINE_BYTES} bytes (${Buffer.byteLength(raw)})`,
    );
    assert.ok(!raw.includes('cookie-secret'), 'no cookie in the line');
  });

  test('when the gateway makes the request id, the access line carries the one the response echoes', async (t) => {
    const gw = await gatewayFor(t);

    const res = await supertest(gw.app).get('/healthz');
    await accessLinesWritten(gw, 1);

    const line = onlyAccessLine(gw);
    assert.equal(line.reqId, res.headers['x-request-id'], 'the id of X-Request-Id');
    assert.equal(line.route, '/healthz', 'the health route');
    assert.equal(line.xuidCount, undefined, 'no XUID count where none was asked');
  });

  test('when privacy fails, the 200 line counts one failed part and stays at info', async (t) => {
    const gw = await gatewayFor(t, { responders: { privacy: () => ({ status: 503 }) } });

    const res = await gw.getCards(`xuids=${XUIDS.join(',')}`);
    await accessLinesWritten(gw, 1);

    assert.equal(res.status, 200, `status is 200, got ${res.status}`);
    const line = onlyAccessLine(gw);
    assert.equal(line.failedParts, 1, 'one failed part');
    assert.equal(line.xuidCount, XUIDS.length, 'the XUIDs asked');
    assert.equal(line.level, 'info', 'a partial answer is still a 200 at info');
  });

  test('when every upstream fails, the 502 line is at error with its problem code, and the calls at warn', async (t) => {
    const fail: Responder = () => ({ status: 500 });
    const gw = await gatewayFor(t, {
      env: { UPSTREAM_RETRIES: '0' },
      responders: { social: fail, profile: fail, privacy: fail },
    });

    const res = await gw.getCards(`xuids=${XUIDS[0]}`);
    await accessLinesWritten(gw, 1);

    assert.equal(res.status, 502, `status is 502, got ${res.status}`);
    const line = onlyAccessLine(gw);
    assert.equal(line.level, 'error', 'a 502 is logged at error');
    assert.equal(line.problem, 'upstreams_failed', 'the line names the problem code');
    const calls = gw.logs.filter((l) => l.msg === 'upstream call failed');
    assert.equal(calls.length, 3, 'one line per failed upstream call');
    for (const call of calls) {
      assert.equal(
        call.level,
        'warn',
        `an upstream 500 is logged at warn (${String(call.upstream)})`,
      );
      assert.equal(call.reqId, line.reqId, 'the call line carries the request id');
    }
    assert.equal(
      gw.logs.filter((l) => l.level === 'error').length,
      1,
      'the access line is the only error line: no stack for an expected 502',
    );
  });

  test('when the gateway sheds a request, the 503 line is at warn', async (t) => {
    const gw = await gatewayFor(t, {
      env: { MAX_EVENT_LOOP_DELAY_MS: '10' },
      eventLoopDelay: () => 500,
    });

    const res = await gw.getCards(`xuids=${XUIDS[0]}`);
    await accessLinesWritten(gw, 1);

    assert.equal(res.status, 503, `status is 503, got ${res.status}`);
    const line = onlyAccessLine(gw);
    assert.equal(line.level, 'warn', 'shedding is logged at warn');
    assert.equal(line.problem, 'overloaded', 'the line names the problem code');
  });

  test('when the query is invalid, the 400 line is at info and holds none of the query', async (t) => {
    const gw = await gatewayFor(t);

    const res = await gw.getCards(`xuids=${HUNDRED_XUIDS[0]},01234`);
    await accessLinesWritten(gw, 1);

    assert.equal(res.status, 400, `status is 400, got ${res.status}`);
    const line = onlyAccessLine(gw);
    assert.equal(line.level, 'info', "a client's mistake is logged at info");
    assert.equal(line.problem, 'invalid_query', 'the line names the problem code');
    assert.ok(!gw.logText().includes(HUNDRED_XUIDS[0] ?? ''), 'no XUID of the query in the logs');
  });

  test('when the path is unknown, the 404 line has no route and not the path', async (t) => {
    const gw = await gatewayFor(t);

    const res = await supertest(gw.app).get(`/users/xuid(${XUIDS[0]})/profile`);
    await accessLinesWritten(gw, 1);

    assert.equal(res.status, 404, `status is 404, got ${res.status}`);
    const line = onlyAccessLine(gw);
    assert.equal(line.route, null, 'no route matched');
    assert.ok(!gw.logText().includes(XUIDS[0]), 'the raw path is not logged');
  });

  test('when the client hangs up before the answer, the line says request aborted with 499', async (t) => {
    const gw = await gatewayFor(t, {
      env: { REQUEST_DEADLINE_MS: '5000' },
      responders: { profile: () => ({ hang: true }) },
    });
    const port = await listenFor(t, gw.app);
    const client = httpRequest({
      host: '127.0.0.1',
      port,
      path: `/friends-with-profiles?xuids=${XUIDS[0]}`,
      headers: { authorization: AUTHORIZATION },
    });
    client.on('error', () => undefined); // destroyed on purpose
    client.end();
    while (gw.upstreams.callsTo('profile').length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }

    client.destroy();
    await accessLinesWritten(gw, 1);

    const line = onlyAccessLine(gw);
    assert.equal(line.msg, 'request aborted', 'the line says the client went away');
    assert.equal(line.status, 499, "the status is nginx's 'client closed request'");
    assert.equal(line.level, 'info', 'a client hanging up is logged at info');
  });
});

describe('an upstream rejects the caller token', () => {
  for (const status of [401, 403] as const) {
    test(`when profile answers ${status}, its call is logged at info as credentials_rejected, with no warn line`, async (t) => {
      const gw = await gatewayFor(t, { responders: { profile: () => ({ status }) } });

      const res = await gw.getCards(`xuids=${XUIDS[0]}`);
      await accessLinesWritten(gw, 1);

      assert.equal(res.status, status, `the client gets ${status}, got ${res.status}`);
      const call = gw.logs.find((line) => line.msg === 'upstream rejected credentials');
      assert.ok(call, 'the rejected call is logged');
      assert.equal(call.level, 'info', 'a bad client token is logged at info');
      assert.equal(call.kind, 'credentials_rejected', 'its kind says the token was refused');
      assert.equal(call.upstream, 'profile', 'it names the upstream');
      assert.equal(call.status, status, 'it carries the status');
      assert.deepEqual(
        gw.logs.filter((line) => line.level === 'warn' || line.level === 'error'),
        [],
        'nothing is logged at warn or error for a client token',
      );
    });
  }
});

describe('a full scenario', () => {
  test('when successes, partial and total failures, rejections, bad queries and debug lines are logged, no line holds a XUID, the token or the userhash', async (t) => {
    type Mode = 'ok' | 'privacy fails' | 'profile rejects' | 'all fail';
    let mode: Mode = 'ok';
    const failWhen =
      (modes: readonly Mode[], status: number, otherwise: Responder): Responder =>
      (call) =>
        modes.includes(mode)
          ? { status, body: { echoed: call.headers.authorization } }
          : otherwise(call);
    const gw = await gatewayFor(t, {
      env: { LOG_LEVEL: 'debug', UPSTREAM_RETRIES: '1' },
      responders: {
        social: failWhen(['all fail'], 500, emptyPeople),
        profile: failWhen(['all fail'], 500, failWhen(['profile rejects'], 401, allProfiles)),
        privacy: failWhen(['all fail', 'privacy fails'], 503, allowEverything),
      },
    });
    const xuids = [...HUNDRED_XUIDS.slice(0, 57), ...XUIDS];
    const modes: Mode[] = ['ok', 'privacy fails', 'profile rejects', 'all fail', 'ok', 'ok'];

    const statuses: string[] = [];
    for (const [i, each] of modes.entries()) {
      mode = each;
      const res = await gw.getCards(`xuids=${xuids.slice(i * 10, i * 10 + 10).join(',')}`);
      statuses.push(
        res.status === 200 && (res.body as { partial?: unknown }).partial === true
          ? 'partial'
          : String(res.status),
      );
    }
    await gw.getCards(`xuids=${xuids[0]},nope`);
    await gw.getCards(`xuids=${xuids[1]}`, `XBL3.0 x=${USERHASH};`);
    await supertest(gw.app).get(`/friends-with-profiles/${xuids[2]}`);
    await supertest(gw.app).post(`/friends-with-profiles?xuids=${xuids[3]}`);
    await accessLinesWritten(gw, 10);

    const text = gw.logText();
    assert.deepEqual(
      statuses,
      ['200', 'partial', '401', '502', '200', '200'],
      'the card requests met success, a partial answer, a rejected token and a total failure',
    );
    assert.equal(accessLines(gw).length, 10, 'one access line per request');
    assert.ok(
      gw.logs.some((line) => line.level === 'debug'),
      'debug lines were written too, and are checked',
    );
    for (const xuid of xuids) assert.ok(!text.includes(xuid), `XUID ${xuid} is in no line`);
    assert.ok(!text.includes(TOKEN), 'the token is in no line');
    assert.ok(!text.includes(USERHASH), 'the userhash is in no line');
    for (const line of gw.logs) {
      assert.equal(
        line.name,
        GATEWAY_LOG_NAME,
        `every line names the gateway (${String(line.msg)})`,
      );
      assert.equal(typeof line.level, 'string', 'every level is a name');
      assert.match(String(line.time), ISO_TIME, 'every time is ISO 8601');
    }
  });
});

describe('the logger', () => {
  test('when a line carries headers, Authorization and cookies are redacted', () => {
    const written: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written.push(chunk.toString('utf8'));
        callback();
      },
    });
    const logger = createLogger({ level: 'info', destination });

    logger.info(
      { req: { headers: { authorization: AUTHORIZATION, cookie: 'session=s3cret' } } },
      'with request headers',
    );
    logger.info({ headers: { authorization: AUTHORIZATION, cookie: 'session=s3cret' } }, 'bare');

    const text = written.join('');
    assert.ok(!text.includes(TOKEN), 'the token is redacted');
    assert.ok(!text.includes('s3cret'), 'the cookie is redacted');
    assert.equal(text.match(/\[redacted\]/g)?.length, 4, 'each of the four values is [redacted]');
  });
});
