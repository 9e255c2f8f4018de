import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import supertest from 'supertest';
import type { Response } from 'supertest';
import { buildApp, createDeps } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/http/request-logging.js';
import { assertProblem } from '../helpers/assertions.js';
import type { Problem } from '../helpers/assertions.js';
import { startFakeUpstreams } from '../helpers/fake-upstreams.js';
import type { RecordedCall } from '../helpers/fake-upstreams.js';
import { AUTHORIZATION, gatewayFor } from '../helpers/test-app.js';
import type { TestGateway } from '../helpers/test-app.js';

const FIXED_PATHS = {
  social: '/users/me/people/xuids',
  profile: '/users/batch/profile/settings',
  privacy: '/users/me/permission/validate',
} as const;

/** A valid W3C traceparent from the specification's examples. */
const CLIENT_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_PARENT_ID = '00f067aa0ba902b7';
const CLIENT_TRACEPARENT = `00-${CLIENT_TRACE_ID}-${CLIENT_PARENT_ID}-01`;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function traceparentOf(call: RecordedCall): { traceId: string; parentId: string; flags: string } {
  const value = call.headers.traceparent;
  assert.equal(typeof value, 'string', `${call.upstream} receives a traceparent`);
  const match = TRACEPARENT.exec(value as string);
  assert.ok(match, `${call.upstream} traceparent is valid W3C trace context: ${String(value)}`);
  const [, traceId = '', parentId = '', flags = ''] = match;
  return { traceId, parentId, flags };
}

function assertThreeUpstreamCalls(gw: TestGateway): readonly RecordedCall[] {
  const calls = gw.upstreams.calls;
  assert.deepEqual(
    calls.map((call) => call.upstream).sort(),
    ['privacy', 'profile', 'social'],
    'each upstream is called exactly once',
  );
  return calls;
}

describe('unknown paths and wrong methods', () => {
  for (const path of ['/', '/nope', '/friends-with-profile', '/users/me/people/xuids']) {
    test(`when ${path} is asked, the gateway answers 404 problem and calls no upstream`, async (t) => {
      const gw = await gatewayFor(t);

      const res = await supertest(gw.app).get(path).set('Authorization', AUTHORIZATION);

      assertProblem(res, 404, 'not_found');
      assert.equal(gw.upstreams.calls.length, 0, 'no upstream was called');
    });
  }

  for (const path of ['/friends-with-profiles?xuids=1', '/healthz', '/readyz']) {
    for (const method of ['post', 'delete', 'put', 'patch'] as const) {
      test(`when ${method.toUpperCase()} ${path} is asked, the gateway answers 405 with Allow and calls no upstream`, async (t) => {
        const gw = await gatewayFor(t);

        const res = await supertest(gw.app)[method](path).set('Authorization', AUTHORIZATION);

        assertProblem(res, 405, 'method_not_allowed');
        const allow = (res.headers.allow ?? '').split(',').map((item) => item.trim());
        assert.ok(allow.includes('GET'), `Allow lists GET: ${String(res.headers.allow)}`);
        assert.ok(!allow.includes(method.toUpperCase()), `Allow does not list ${method}`);
        assert.equal(gw.upstreams.calls.length, 0, 'no upstream was called');
      });
    }
  }
});

describe('URL length', () => {
  function urlOfLength(length: number): string {
    const base = '/friends-with-profiles?xuids=2533274791381930&pad=';
    return base + 'x'.repeat(length - base.length);
  }

  test('when the URL is longer than 8 KiB, the gateway answers 414 problem and calls no upstream', async (t) => {
    const gw = await gatewayFor(t);
    const url = urlOfLength(8193);

    const res = await supertest(gw.app).get(url).set('Authorization', AUTHORIZATION);

    assertProblem(res, 414, 'uri_too_long');
    assert.ok(res.headers['x-request-id'], 'the 414 carries X-Request-Id');
    assert.equal(gw.upstreams.calls.length, 0, 'no upstream was called');
  });

  test('when the URL is exactly 8 KiB, the gateway serves it', async (t) => {
    const gw = await gatewayFor(t);
    const url = urlOfLength(8192);
    assert.equal(url.length, 8192, 'the URL is exactly 8192 bytes');

    const res = await supertest(gw.app).get(url).set('Authorization', AUTHORIZATION);

    assert.equal(res.status, 200, `status is 200, got ${res.status}`);
  });
});

describe('X-Request-Id', () => {
  const valid = [
    'abc',
    'A',
    'req-1.2_3:4',
    '0af7651916cd43dd8448eb211c80319c',
    'a'.repeat(128),
    'ABCxyz019._:-',
  ];
  for (const id of valid) {
    test(`when the client sends the valid X-Request-Id '${id.slice(0, 20)}' (${id.length} chars), it is echoed and forwarded to every upstream`, async (t) => {
      const gw = await gatewayFor(t);

      const res = await gw.getCards('xuids=1').set('X-Request-Id', id);

      assert.equal(res.status, 200, `status is 200, got ${res.status}`);
      assert.equal(res.headers['x-request-id'], id, 'the response echoes the id');
      for (const call of assertThreeUpstreamCalls(gw)) {
        assert.equal(call.headers['x-request-id'], id, `${call.upstream} receives the id`);
      }
    });
  }

  const invalid: { name: string; id: string }[] = [
    { name: '129 characters', id: 'a'.repeat(129) },
    { name: 'a space', id: 'abc def' },
    { name: 'a slash', id: 'abc/def' },
    { name: 'a semicolon', id: 'abc;x=1' },
    { name: 'a comma', id: 'abc,def' },
    { name: 'non-ASCII characters', id: 'r\u00e9q' },
    { name: 'a percent sign', id: '%0d%0a' },
  ];
  for (const { name, id } of invalid) {
    test(`when the client's X-Request-Id has ${name}, a new valid id replaces it on the response and upstream calls`, async (t) => {
      const gw = await gatewayFor(t);

      const res = await gw.getCards('xuids=1').set('X-Request-Id', id);

      assert.equal(res.status, 200, `status is 200, got ${res.status}`);
      const echoed = res.headers['x-request-id'] ?? '';
      assert.notEqual(echoed, id, 'the invalid id is not echoed');
      assert.match(echoed, VALID_REQUEST_ID, 'the new id is itself valid');
      for (const call of assertThreeUpstreamCalls(gw)) {
        assert.equal(call.headers['x-request-id'], echoed, `${call.upstream} receives the new id`);
      }
    });
  }

  test('when the client sends no X-Request-Id, each request gets a distinct new one', async (t) => {
    const gw = await gatewayFor(t);

    const first = await gw.getCards('xuids=1');
    const second = await gw.getCards('xuids=1');

    const ids = [first.headers['x-request-id'] ?? '', second.headers['x-request-id'] ?? ''];
    for (const id of ids) assert.match(id, VALID_REQUEST_ID, 'a generated id is valid');
    assert.notEqual(ids[0], ids[1], 'two requests get different ids');
  });

  const responses: { name: string; send: (gw: TestGateway) => supertest.Test; status: number }[] = [
    { name: '200', send: (gw) => gw.getCards('xuids=1'), status: 200 },
    { name: '400', send: (gw) => gw.getCards('xuids=0123'), status: 400 },
    {
      name: '401',
      send: (gw) => supertest(gw.app).get('/friends-with-profiles?xuids=1'),
      status: 401,
    },
    { name: '404', send: (gw) => supertest(gw.app).get('/nowhere'), status: 404 },
    { name: '405', send: (gw) => supertest(gw.app).post('/healthz'), status: 405 },
  ];
  for (const { name, send, status } of responses) {
    test(`when the gateway answers ${name}, the response carries the client's valid X-Request-Id`, async (t) => {
      const gw = await gatewayFor(t);

      const res = await send(gw).set('X-Request-Id', `edge-${name}`);

      assert.equal(res.status, status, `status is ${status}, got ${res.status}`);
      assert.equal(res.headers['x-request-id'], `edge-${name}`, 'X-Request-Id is echoed');
      if (status >= 400) {
        assert.equal((res.body as Problem).requestId, `edge-${name}`, 'the problem names the id');
      }
    });

    test(`when the gateway answers ${name} to a request without an id, the response carries a new X-Request-Id`, async (t) => {
      const gw = await gatewayFor(t);

      const res = await send(gw);

      assert.equal(res.status, status, `status is ${status}, got ${res.status}`);
      assert.match(res.headers['x-request-id'] ?? '', VALID_REQUEST_ID, 'X-Request-Id is set');
    });
  }
});

describe('response headers', () => {
  test('when cards are served, the 200 is application/json with Cache-Control private, no-store', async (t) => {
    const gw = await gatewayFor(t);

    const res = await gw.getCards('xuids=2533274791381930');

    assert.equal(res.status, 200, `status is 200, got ${res.status}`);
    assert.match(res.headers['content-type'] ?? '', /^application\/json\b/, 'JSON content type');
    assert.equal(res.headers['cache-control'], 'private, no-store', 'no cache may keep the cards');
    assert.equal(res.headers.etag, undefined, 'no ETag on a personal answer');
    assert.equal(res.headers['x-powered-by'], undefined, 'no X-Powered-By');
  });

  const responses: { name: string; send: (gw: TestGateway) => supertest.Test }[] = [
    { name: '200', send: (gw) => gw.getCards('xuids=1') },
    { name: '400', send: (gw) => gw.getCards('xuids=-1') },
    { name: '401', send: (gw) => supertest(gw.app).get('/friends-with-profiles?xuids=1') },
    { name: '404', send: (gw) => supertest(gw.app).get('/nowhere') },
    { name: '/healthz', send: (gw) => supertest(gw.app).get('/healthz') },
  ];
  for (const { name, send } of responses) {
    test(`when the gateway answers ${name}, helmet's security headers are present`, async (t) => {
      const gw = await gatewayFor(t);

      const res = await send(gw);

      assert.equal(res.headers['x-content-type-options'], 'nosniff', 'nosniff is set');
      assert.ok(res.headers['content-security-policy'], 'a Content-Security-Policy is set');
      assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN', 'framing is restricted');
    });
  }

  test('when the gateway answers a problem, it is not cacheable', async (t) => {
    const gw = await gatewayFor(t);

    const res = await gw.getCards('xuids=abc');

    assert.equal(res.status, 400, 'the query is rejected');
    assert.match(res.headers['cache-control'] ?? '', /no-store/, 'a problem is never cached');
  });
});

describe('conditional requests', () => {
  const conditions: [name: string, value: string][] = [
    ['If-None-Match', '*'],
    ['If-None-Match', '"anything"'],
    ['If-Modified-Since', new Date(Date.now() + 60_000).toUTCString()],
  ];
  for (const [name, value] of conditions) {
    test(`when a card request carries ${name}: ${value}, it still gets the full 200: nothing has a validator to match`, async (t) => {
      const gw = await gatewayFor(t);

      const res = await gw.getCards('xuids=2533274791381930').set(name, value);

      assert.equal(res.status, 200, `not a 304, got ${res.status}`);
      assert.equal((res.body as { cards: unknown[] }).cards.length, 1, 'the cards are in the body');
    });

    test(`when /healthz and /readyz are asked with ${name}: ${value}, each still answers 200 with its body`, async (t) => {
      const gw = await gatewayFor(t);

      for (const path of ['/healthz', '/readyz']) {
        const res = await supertest(gw.app).get(path).set(name, value);

        assert.equal(res.status, 200, `${path} is not a 304, got ${res.status}`);
        assert.ok(
          typeof (res.body as { status?: unknown }).status === 'string',
          `${path} has a body`,
        );
      }
    });
  }
});

describe('upstream request headers', () => {
  test('when cards are fetched, each upstream call carries JSON content-type and accept, ms-cv and traceparent', async (t) => {
    const gw = await gatewayFor(t);

    const res = await gw.getCards('xuids=1,2');

    assert.equal(res.status, 200, `status is 200, got ${res.status}`);
    const calls = assertThreeUpstreamCalls(gw);
    const cvBases = new Set<string>();
    for (const call of calls) {
      assert.equal(call.method, 'POST', `${call.upstream} is called with POST`);
      assert.equal(
        call.headers['content-type'],
        'application/json',
        `${call.upstream} content-type`,
      );
      assert.equal(call.headers.accept, 'application/json', `${call.upstream} accept`);
      const cv = call.headers['ms-cv'];
      assert.equal(typeof cv, 'string', `${call.upstream} receives MS-CV`);
      assert.match(cv as string, /^[A-Za-z0-9+/]+={0,2}(\.\d+)+$/, 'MS-CV is base.counter');
      cvBases.add((cv as string).split('.')[0]!);
      traceparentOf(call);
    }
    assert.equal(cvBases.size, 1, 'the three calls of one request share one correlation vector');
    assert.equal(
      new Set(calls.map((call) => call.headers['ms-cv'])).size,
      3,
      'each call extends the correlation vector with its own counter',
    );
  });

  test('when two requests are served, their correlation vectors differ', async (t) => {
    const gw = await gatewayFor(t);

    await gw.getCards('xuids=1');
    await gw.getCards('xuids=2');

    const bases = new Set(
      gw.upstreams.calls.map((call) => String(call.headers['ms-cv']).split('.')[0]),
    );
    assert.equal(bases.size, 2, 'each request starts its own correlation vector');
  });

  test('when the client sends no traceparent, the upstream calls share one fresh sampled trace id and have distinct parent ids', async (t) => {
    const gw = await gatewayFor(t);

    await gw.getCards('xuids=1');

    const contexts = assertThreeUpstreamCalls(gw).map(traceparentOf);
    assert.equal(new Set(contexts.map((c) => c.traceId)).size, 1, 'one trace id for the request');
    assert.equal(new Set(contexts.map((c) => c.parentId)).size, 3, 'a new span per upstream call');
    assert.ok(!/^0+$/.test(contexts[0]!.traceId), 'the trace id is not all zeros');
    for (const call of gw.upstreams.calls) {
      assert.equal(call.headers.tracestate, undefined, `${call.upstream} gets no tracestate`);
    }
  });

  test('when the client sends a valid traceparent and tracestate, every upstream call keeps its trace id with a new parent id and gets its tracestate', async (t) => {
    const gw = await gatewayFor(t);
    const tracestate = 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7';

    const res = await gw
      .getCards('xuids=1')
      .set('traceparent', CLIENT_TRACEPARENT)
      .set('tracestate', tracestate);

    assert.equal(res.status, 200, `status is 200, got ${res.status}`);
    for (const call of assertThreeUpstreamCalls(gw)) {
      const context = traceparentOf(call);
      assert.equal(
        context.traceId,
        CLIENT_TRACE_ID,
        `${call.upstream} continues the client's trace`,
      );
      assert.notEqual(context.parentId, CLIENT_PARENT_ID, `${call.upstream} gets a new parent id`);
      assert.equal(context.flags, '01', `${call.upstream} keeps the sampled flag`);
      assert.equal(call.headers.tracestate, tracestate, `${call.upstream} gets the tracestate`);
    }
  });

  test('when the client sends an unsampled valid traceparent, the upstream calls keep its flags', async (t) => {
    const gw = await gatewayFor(t);

    await gw.getCards('xuids=1').set('traceparent', `00-${CLIENT_TRACE_ID}-${CLIENT_PARENT_ID}-00`);

    for (const call of assertThreeUpstreamCalls(gw)) {
      const context = traceparentOf(call);
      assert.equal(context.traceId, CLIENT_TRACE_ID, `${call.upstream} continues the trace`);
      assert.equal(context.flags, '00', `${call.upstream} keeps the unsampled flag`);
    }
  });

  const invalidTraceparents: { name: string; value: string }[] = [
    { name: 'garbage', value: 'not-a-traceparent' },
    { name: 'upper-case hex', value: `00-${CLIENT_TRACE_ID.toUpperCase()}-${CLIENT_PARENT_ID}-01` },
    { name: 'version ff', value: `ff-${CLIENT_TRACE_ID}-${CLIENT_PARENT_ID}-01` },
    { name: 'an all-zero trace id', value: `00-${'0'.repeat(32)}-${CLIENT_PARENT_ID}-01` },
    { name: 'an all-zero parent id', value: `00-${CLIENT_TRACE_ID}-${'0'.repeat(16)}-01` },
    { name: 'a short trace id', value: `00-${CLIENT_TRACE_ID.slice(1)}-${CLIENT_PARENT_ID}-01` },
    { name: 'a trailing field on version 00', value: `${CLIENT_TRACEPARENT}-extra` },
    {
      name: 'non-hex characters',
      value: `00-${CLIENT_TRACE_ID.slice(0, 31)}g-${CLIENT_PARENT_ID}-01`,
    },
  ];
  for (const { name, value } of invalidTraceparents) {
    test(`when the client's traceparent has ${name}, it is not forwarded: a fresh trace id is used and tracestate is dropped`, async (t) => {
      const gw = await gatewayFor(t);

      const res = await gw
        .getCards('xuids=1')
        .set('traceparent', value)
        .set('tracestate', 'congo=t61rcWkgMzE');

      assert.equal(res.status, 200, `status is 200, got ${res.status}`);
      const calls = assertThreeUpstreamCalls(gw);
      const traceIds = new Set(calls.map((call) => traceparentOf(call).traceId));
      assert.equal(traceIds.size, 1, 'the calls share one fresh trace id');
      const [traceId = ''] = traceIds;
      assert.ok(!value.toLowerCase().includes(traceId), 'the fresh trace id is not the client one');
      assert.ok(!/^0+$/.test(traceId), 'the fresh trace id is not all zeros');
      for (const call of calls) {
        assert.notEqual(call.headers.traceparent, value, `${call.upstream} does not get it`);
        assert.equal(call.headers.tracestate, undefined, `${call.upstream} gets no tracestate`);
      }
    });
  }

  test('when the client sends query parameters such as method=add, every upstream is called with POST on its fixed path and no query string', async (t) => {
    const gw = await gatewayFor(t);

    const res = await gw.getCards('xuids=1&method=add&xuid=2&path=/users/me/people');

    assert.equal(res.status, 200, `status is 200, got ${res.status}`);
    for (const call of assertThreeUpstreamCalls(gw)) {
      assert.equal(call.method, 'POST', `${call.upstream} is called with POST`);
      assert.equal(
        call.url,
        FIXED_PATHS[call.upstream],
        `${call.upstream} path is fixed, no query`,
      );
    }
  });

  test('when the client sends cookie, x-forwarded-for, x-custom and other headers, none of them reaches an upstream', async (t) => {
    const gw = await gatewayFor(t);
    const clientHeaders: Record<string, string> = {
      cookie: 'session=cookie-marker',
      'x-forwarded-for': '203.0.113.77',
      'x-forwarded-host': 'forwarded-host-marker.example',
      'x-custom': 'custom-marker',
      'user-agent': 'agent-marker/1.0',
      'accept-language': 'fr-FR',
      'x-xbl-contract-version': '99',
      'x-requestedserviceversion': '99',
      forwarded: 'for=198.51.100.9',
      origin: 'https://origin-marker.example',
    };

    const res = await Object.entries(clientHeaders).reduce(
      (request, [name, value]) => request.set(name, value),
      gw.getCards('xuids=1'),
    );

    assert.equal(res.status, 200, `status is 200, got ${res.status}`);
    const allowed = new Set([
      'host',
      'connection',
      'content-length',
      'content-type',
      'accept',
      'authorization',
      'x-request-id',
      'ms-cv',
      'traceparent',
      'tracestate',
      'x-xbl-contract-version',
      'x-requestedserviceversion',
    ]);
    for (const call of assertThreeUpstreamCalls(gw)) {
      for (const name of Object.keys(call.headers)) {
        assert.ok(
          allowed.has(name),
          `${call.upstream} receives only gateway headers, not '${name}'`,
        );
      }
      const text = JSON.stringify(call.headers);
      for (const marker of ['marker', '203.0.113.77', '198.51.100.9', 'fr-FR']) {
        assert.ok(!text.includes(marker), `${call.upstream} headers carry no '${marker}'`);
      }
      for (const name of ['x-xbl-contract-version', 'x-requestedserviceversion']) {
        assert.notEqual(call.headers[name], '99', `${call.upstream} ${name} is the gateway's own`);
      }
    }
  });

  test('when cards are fetched, profile gets contract version 2 and privacy gets service version 1 and contract version 1', async (t) => {
    const gw = await gatewayFor(t);

    await gw.getCards('xuids=1');

    const [profile] = gw.upstreams.callsTo('profile');
    const [privacy] = gw.upstreams.callsTo('privacy');
    assert.ok(profile && privacy, 'profile and privacy were called');
    assert.equal(profile.headers['x-xbl-contract-version'], '2', 'profile contract version 2');
    assert.equal(privacy.headers['x-requestedserviceversion'], '1', 'privacy service version 1');
    assert.equal(privacy.headers['x-xbl-contract-version'], '1', 'privacy contract version 1');
  });

  test('when base URLs carry a path prefix, the prefix comes before each fixed path', async (t) => {
    const upstreams = await startFakeUpstreams();
    const config = loadConfig({
      XBL_SOCIAL_URL: `${upstreams.env.XBL_SOCIAL_URL}/prefix`,
      XBL_PROFILE_URL: `${upstreams.env.XBL_PROFILE_URL}/profile/v2/`,
      XBL_PRIVACY_URL: `${upstreams.env.XBL_PRIVACY_URL}/a/b/c`,
      LOG_LEVEL: 'silent',
    });
    const gateway = buildApp(createDeps(config, createLogger({ level: 'silent' })));
    t.after(async () => {
      await gateway.close();
      await upstreams.close();
    });

    const res = await supertest(gateway.app)
      .get('/friends-with-profiles?xuids=1&method=add')
      .set('Authorization', AUTHORIZATION);

    assert.equal(res.status, 200, `status is 200, got ${res.status}: ${res.text}`);
    assert.deepEqual(
      upstreams.calls.map((call) => call.url).sort(),
      [
        '/a/b/c/users/me/permission/validate',
        '/prefix/users/me/people/xuids',
        '/profile/v2/users/batch/profile/settings',
      ],
      'each prefix is followed by the fixed path, with no query string',
    );
  });
});

describe('health endpoints', () => {
  test('when /healthz is asked, it answers 200 {"status":"ok"} without touching an upstream', async (t) => {
    const gw = await gatewayFor(t);

    const res = await supertest(gw.app).get('/healthz');

    assert.equal(res.status, 200, `status is 200, got ${res.status}`);
    assert.match(res.headers['content-type'] ?? '', /^application\/json\b/, 'JSON content type');
    assert.deepEqual(res.body, { status: 'ok' }, 'the body is {"status":"ok"}');
    assert.equal(gw.upstreams.calls.length, 0, 'no upstream was called');
  });

  test('when /healthz is asked while every upstream is down, it still answers 200', async (t) => {
    const gw = await gatewayFor(t);
    await gw.upstreams.close();

    const res = await supertest(gw.app).get('/healthz');

    assert.equal(res.status, 200, `liveness does not depend on upstreams, got ${res.status}`);
  });

  test('when /readyz is asked, it answers 200 with each upstream state and the cache size, without touching an upstream', async (t) => {
    const gw = await gatewayFor(t);

    const res = await supertest(gw.app).get('/readyz');

    assert.equal(res.status, 200, `status is 200, got ${res.status}`);
    const body = res.body as {
      upstreams: Record<string, { circuit: string }>;
      cache: { entries: number; bytes: number };
    };
    assert.deepEqual(
      Object.keys(body.upstreams).sort(),
      ['privacy', 'profile', 'social'],
      'each upstream is listed',
    );
    for (const [name, state] of Object.entries(body.upstreams)) {
      assert.ok(['closed', 'open', 'half-open'].includes(state.circuit), `${name} circuit state`);
    }
    assert.equal(body.cache.entries, 0, 'the cache starts empty');
    assert.equal(typeof body.cache.bytes, 'number', 'the cache size in bytes is a number');
    assert.equal(gw.upstreams.calls.length, 0, 'no upstream was called');
  });

  test('when profiles have been fetched, /readyz reports a larger cache', async (t) => {
    const gw = await gatewayFor(t);
    const before = await supertest(gw.app).get('/readyz');
    const served = await gw.getCards('xuids=1,2');
    assert.equal(served.status, 200, 'cards were served');
    const callsAfterCards = gw.upstreams.calls.length;

    const after = await supertest(gw.app).get('/readyz');

    const sizeOf = (res: Response) =>
      (res.body as { cache: { entries: number; bytes: number } }).cache;
    assert.ok(sizeOf(after).entries > sizeOf(before).entries, 'the cache holds more entries');
    assert.ok(sizeOf(after).bytes > sizeOf(before).bytes, 'the cache holds more bytes');
    assert.equal(gw.upstreams.calls.length, callsAfterCards, '/readyz called no upstream');
  });
});
