import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import supertest from 'supertest';
import { assertProblem } from '../helpers/assertions.js';
import { xuidsOf } from '../helpers/fake-upstreams.js';
import type {
  FakeResponse,
  FakeUpstreamName,
  ProfileBody,
  RecordedCall,
  Responder,
} from '../helpers/fake-upstreams.js';
import { AUTHORIZATION, OTHER_AUTHORIZATION, XUIDS, gatewayFor } from '../helpers/test-app.js';
import type { TestGateway } from '../helpers/test-app.js';

/** The secret part of the default `Authorization`. */
const TOKEN = AUTHORIZATION.slice(AUTHORIZATION.indexOf(';') + 1);

const UPSTREAMS: readonly FakeUpstreamName[] = ['social', 'profile', 'privacy'];

/** Asserts `secret` appears nowhere in the captured logs. */
function assertNotLogged(gw: TestGateway, secret: string): void {
  assert.ok(gw.logs.length > 0, 'the gateway logged something to check');
  assert.ok(!gw.logText().includes(secret), `the logs never contain '${secret}'`);
}

/**
 * Asserts no log line carries request headers at all: the access line names the route, not the
 * request, so `Authorization` and cookies have nowhere to appear (redaction covers other lines).
 */
function assertNoHeadersLogged(gw: TestGateway): void {
  const access = gw.logs.filter((line) => line.msg === 'request finished');
  assert.ok(access.length > 0, 'the request wrote its access line');
  for (const line of gw.logs) {
    for (const key of ['req', 'res', 'headers']) {
      assert.equal(line[key], undefined, `no line carries '${key}' (${String(line.msg)})`);
    }
  }
}

describe('missing or malformed Authorization', () => {
  test('when Authorization is missing, the gateway answers 401 problem and calls no upstream', async (t) => {
    const gw = await gatewayFor(t);

    const res = await supertest(gw.app).get('/friends-with-profiles?xuids=2533274791381930');

    assertProblem(res, 401, 'missing_authorization');
    assert.equal(gw.upstreams.calls.length, 0, 'no upstream was called');
  });

  test('when Authorization is missing and the query is also bad, the gateway still calls no upstream', async (t) => {
    const gw = await gatewayFor(t);

    const res = await supertest(gw.app).get('/friends-with-profiles?xuids=0123');

    assert.ok(res.status === 400 || res.status === 401, `status is 400 or 401, got ${res.status}`);
    assert.equal(gw.upstreams.calls.length, 0, 'no upstream was called');
  });

  const malformed: { name: string; header: string }[] = [
    { name: 'empty', header: '' },
    { name: 'a Bearer token (Bearer x)', header: 'Bearer x' },
    { name: 'missing the userhash (XBL3.0 x=;tok)', header: 'XBL3.0 x=;tok' },
    { name: 'missing the token and separator (XBL3.0 x=hash)', header: 'XBL3.0 x=hash' },
    { name: 'missing the token (XBL3.0 x=hash;)', header: 'XBL3.0 x=hash;' },
    { name: 'a lower-case scheme (xbl3.0 x=hash;tok)', header: 'xbl3.0 x=hash;tok' },
    { name: 'a different scheme version (XBL2.0 x=hash;tok)', header: 'XBL2.0 x=hash;tok' },
    { name: 'two spaces after the scheme', header: 'XBL3.0  x=hash;tok' },
    { name: 'no space after the scheme', header: 'XBL3.0x=hash;tok' },
    { name: 'a space after x=', header: 'XBL3.0 x= hash;tok' },
    { name: 'a space after the semicolon', header: 'XBL3.0 x=hash; tok' },
    { name: 'a space inside the token', header: 'XBL3.0 x=hash;tok en' },
    { name: 'another claim name (y=hash;tok)', header: 'XBL3.0 y=hash;tok' },
    { name: 'only the scheme', header: 'XBL3.0' },
  ];

  for (const { name, header } of malformed) {
    test(`when Authorization is ${name}, the gateway answers 401 problem and calls no upstream`, async (t) => {
      const gw = await gatewayFor(t);

      const res = await gw.getCards('xuids=2533274791381930', header);

      assertProblem(res, 401, 'missing_authorization');
      assert.equal(gw.upstreams.calls.length, 0, 'no upstream was called');
    });
  }
});

describe('forwarding Authorization', () => {
  test('when Authorization is valid, it is forwarded verbatim to all three upstreams', async (t) => {
    const gw = await gatewayFor(t);
    const authorization = 'XBL3.0 x=10293847561029384756;eyJ0eXAi.a-b_c~d+e/f=.g!h*i';

    const res = await gw.getCards('xuids=2533274791381930', authorization);

    assert.equal(res.status, 200, `status is 200, got ${res.status}: ${res.text}`);
    const calls = gw.upstreams.calls;
    assert.deepEqual(
      calls.map((call) => call.upstream).sort(),
      ['privacy', 'profile', 'social'],
      'each of the three upstreams is called once',
    );
    for (const call of calls) {
      assert.equal(
        call.headers.authorization,
        authorization,
        `${call.upstream} receives the caller's Authorization byte for byte`,
      );
    }
  });

  test('when two callers ask in turn, each upstream call carries the Authorization of its own caller', async (t) => {
    const gw = await gatewayFor(t);
    const other = 'XBL3.0 x=9912345678901;eyJhbGciOiJSUzI1NiJ9.second.sig';

    await gw.getCards('xuids=1');
    const firstCount = gw.upstreams.calls.length;
    await gw.getCards('xuids=2', other);

    const first = gw.upstreams.calls.slice(0, firstCount);
    const second = gw.upstreams.calls.slice(firstCount);
    assert.ok(first.length > 0 && second.length > 0, 'both requests reached upstreams');
    for (const call of first) {
      assert.equal(
        call.headers.authorization,
        AUTHORIZATION,
        'first caller calls carry its header',
      );
    }
    for (const call of second) {
      assert.equal(call.headers.authorization, other, 'second caller calls carry its header');
    }
  });
});

describe('the token never reaches the logs', () => {
  test('when a request succeeds, the logs hold no token and no request header', async (t) => {
    const gw = await gatewayFor(t);

    const res = await gw.getCards('xuids=2533274791381930,2533274792986770');

    assert.equal(res.status, 200, `status is 200, got ${res.status}`);
    assertNotLogged(gw, TOKEN);
    assertNoHeadersLogged(gw);
    assert.ok(!res.text.includes(TOKEN), 'the response body holds no token');
  });

  test('when Authorization is malformed, the 401 logs and body hold no part of the header', async (t) => {
    const gw = await gatewayFor(t);
    const secret = 'sup3r-s3cret-bearer-value';

    const res = await gw.getCards('xuids=1', `Bearer ${secret}`);

    assertProblem(res, 401, 'missing_authorization');
    assertNotLogged(gw, secret);
    assertNoHeadersLogged(gw);
    assert.ok(!res.text.includes(secret), 'the 401 body does not echo the header');
  });

  test('when an XBL3.0 header is malformed only by its spacing, the 401 logs hold no token', async (t) => {
    const gw = await gatewayFor(t);
    const secret = 'eyJhbGciOiJSUzI1NiJ9.spaced-token';

    const res = await gw.getCards('xuids=1', `XBL3.0 x=hash; ${secret}`);

    assertProblem(res, 401, 'missing_authorization');
    assertNotLogged(gw, secret);
  });

  test('when every upstream fails and echoes the token in its body, neither the logs nor the response hold the token', async (t) => {
    const echoToken: Responder = (call) => ({
      status: 500,
      body: { error: 'boom', authorization: call.headers.authorization },
    });
    const gw = await gatewayFor(t, {
      responders: { social: echoToken, profile: echoToken, privacy: echoToken },
    });

    const res = await gw.getCards('xuids=2533274791381930');

    assert.ok(res.status >= 500, `the gateway answers 5xx, got ${res.status}`);
    assert.ok(gw.upstreams.calls.length >= 3, 'every upstream was called');
    assertNotLogged(gw, TOKEN);
    assertNoHeadersLogged(gw);
    assert.ok(!res.text.includes(TOKEN), 'the error body holds no token');
    assert.ok(!res.text.includes('boom'), 'the error body holds no upstream body');
  });

  test('when one upstream resets the connection and another answers 503, the logs hold no token', async (t) => {
    const gw = await gatewayFor(t, {
      responders: { social: () => ({ reset: true }), privacy: () => ({ status: 503 }) },
    });

    const res = await gw.getCards('xuids=2533274791381930');

    assert.ok(res.status === 200 || res.status >= 500, `the gateway answers, got ${res.status}`);
    assertNotLogged(gw, TOKEN);
    assertNoHeadersLogged(gw);
  });

  test('when an upstream rejects the token with 401, the logs hold no token', async (t) => {
    const gw = await gatewayFor(t, { responders: { profile: () => ({ status: 401 }) } });

    const res = await gw.getCards('xuids=2533274791381930');

    assert.equal(res.status, 401, `status is 401, got ${res.status}`);
    assertNotLogged(gw, TOKEN);
    assertNoHeadersLogged(gw);
  });
});

describe('an upstream rejects the token', () => {
  for (const upstream of UPSTREAMS) {
    for (const [status, code] of [
      [401, 'upstream_unauthorized'],
      [403, 'upstream_forbidden'],
    ] as const) {
      test(`when ${upstream} answers ${status}, the gateway answers ${status} as a problem without the upstream body or token`, async (t) => {
        const gw = await gatewayFor(t, {
          responders: {
            [upstream]: () => ({ status, body: { code: 'upstream-secret-detail' } }),
          },
        });

        const res = await gw.getCards('xuids=2533274791381930');

        assertProblem(res, status, code);
        assert.equal(
          gw.upstreams.callsTo(upstream).length,
          1,
          `${upstream} was called once, not retried`,
        );
        assert.ok(!res.text.includes('upstream-secret-detail'), 'no upstream body in the problem');
        assert.ok(!res.text.includes(TOKEN), 'no token in the problem');
        assert.equal(
          res.headers['www-authenticate'],
          status === 401 ? 'XBL3.0' : undefined,
          'every 401 carries WWW-Authenticate: XBL3.0 (API.md §3), a 403 none',
        );
      });
    }
  }

  test('when one upstream answers 403 and the others succeed, the gateway still answers 403', async (t) => {
    const gw = await gatewayFor(t, { responders: { privacy: () => ({ status: 403 }) } });

    const res = await gw.getCards('xuids=1,2');

    assertProblem(res, 403, 'upstream_forbidden');
    assert.equal(gw.upstreams.callsTo('social').length, 1, 'social was called');
    assert.equal(gw.upstreams.callsTo('profile').length, 1, 'profile was called');
  });
});

describe('a token rejection wins over other failures', () => {
  const rejections = [
    { status: 401, code: 'upstream_unauthorized' },
    { status: 403, code: 'upstream_forbidden' },
  ] as const;
  /** Four XUIDs: with UPSTREAM_BATCH_SIZE=2, two batches of two. */
  const FOUR_XUIDS = Array.from({ length: 4 }, (_, index) =>
    String(2533274800000000n + BigInt(index)),
  );
  const [FIRST_BATCH_XUID, , LATER_BATCH_XUID] = FOUR_XUIDS as [string, string, string, string];

  for (const upstream of UPSTREAMS) {
    for (const { status, code } of rejections) {
      test(`when the first ${upstream} batch answers 500 and a later one ${status}, the gateway answers ${status}`, async (t) => {
        // The rejection comes last both in batch order and in time, so it must win on its merits.
        const firstBatchFails: Responder = (call) =>
          xuidsOf(call).includes(FIRST_BATCH_XUID) ? { status: 500 } : { status, delayMs: 50 };
        const gw = await gatewayFor(t, {
          env: { UPSTREAM_BATCH_SIZE: '2' },
          responders: { [upstream]: firstBatchFails },
        });

        const res = await gw.getCards(`xuids=${FOUR_XUIDS.join(',')}`);

        assertProblem(res, status, code);
        const calls = gw.upstreams.callsTo(upstream);
        assert.deepEqual(
          [...new Set(calls.flatMap(xuidsOf))].sort(),
          [...FOUR_XUIDS].sort(),
          `both ${upstream} batches should have been sent`,
        );
        assert.equal(
          calls.filter((call) => xuidsOf(call).includes(LATER_BATCH_XUID)).length,
          1,
          `the rejected ${upstream} batch should be sent once, not retried`,
        );
        assert.ok(!res.text.includes(TOKEN), 'no token in the problem');
      });
    }
  }

  const otherFailures: { name: string; answer: FakeResponse }[] = [
    { name: 'answers 500', answer: { status: 500 } },
    { name: 'hangs past the deadline', answer: { hang: true } },
  ];
  const [X1, X2] = XUIDS;
  for (const { name, answer } of otherFailures) {
    for (const { status, code } of rejections) {
      test(`when two XUIDs miss different settings and the first one's profile call ${name} while the other's is rejected with ${status}, the gateway answers ${status}`, async (t) => {
        const gw = await gatewayFor(t, { env: { REQUEST_DEADLINE_MS: '250' } });
        const warm = await gw.getCards(`xuids=${X1}&settings=Gamertag`);
        assert.equal(warm.status, 200, `precondition: ${X1}'s Gamertag is cached`);
        gw.upstreams.respond('profile', (call) =>
          profileBodyOf(call).userIds.includes(X1) ? answer : { status, delayMs: 20 },
        );

        const res = await gw.getCards(`xuids=${X1},${X2}&settings=Gamertag,Gamerscore`);

        assertProblem(res, status, code);
        const calls = gw.upstreams.callsTo('profile').slice(1);
        assert.deepEqual(
          [...new Set(calls.map((call) => JSON.stringify(profileBodyOf(call))))].sort(),
          [
            JSON.stringify({ userIds: [X1], settings: ['Gamerscore'] }),
            JSON.stringify({ userIds: [X2], settings: ['Gamertag', 'Gamerscore'] }),
          ].sort(),
          'each XUID should go in its own profile call for exactly its missing settings',
        );
        assert.equal(
          calls.filter((call) => profileBodyOf(call).userIds.includes(X2)).length,
          1,
          'the rejected profile call should be sent once, not retried',
        );
      });
    }
  }

  for (const { status, code } of rejections) {
    test(`when a profile fetch the request joined answers 500 and its own fetch is rejected with ${status}, the request answers ${status}`, async (t) => {
      const sharedCalled = createSignal();
      const ownCalled = createSignal();
      const gw = await gatewayFor(t, {
        // No retries: the shared fetch's 500 is its final answer.
        env: { UPSTREAM_RETRIES: '0' },
        responders: {
          profile: async (call) => {
            if (profileBodyOf(call).userIds.includes(X2)) {
              ownCalled.resolve();
              return { status };
            }
            sharedCalled.resolve();
            await ownCalled.promise;
            return { status: 500 };
          },
        },
      });
      const starterPending = gw.getCards(`xuids=${X1}`, OTHER_AUTHORIZATION).then((r) => r);
      await sharedCalled.promise;

      const res = await gw.getCards(`xuids=${X1},${X2}`);
      const starter = await starterPending;

      assertProblem(res, status, code);
      const calls = gw.upstreams.callsTo('profile');
      assert.deepEqual(
        calls.map((call) => [profileBodyOf(call).userIds, call.headers.authorization]),
        [
          [[X1], OTHER_AUTHORIZATION],
          [[X2], AUTHORIZATION],
        ],
        `the request should join the running fetch of ${X1} and fetch only ${X2} itself`,
      );
      assert.equal(starter.status, 200, 'the starter had social and privacy, so it gets 200');
      assert.deepEqual(
        (starter.body as { errors: unknown }).errors,
        [{ upstream: 'profile', code: 'unavailable', status: 500 }],
        "the starter should see its own fetch's 500, not the other caller's rejection",
      );
    });
  }
});

function profileBodyOf(call: RecordedCall): ProfileBody {
  return call.body as ProfileBody;
}

/** A promise with its resolver, to hold an upstream answer until another call arrives. */
function createSignal() {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}
