import assert from 'node:assert/strict';
import { test } from 'node:test';
import supertest from 'supertest';
import { assertProblem, cardsOf } from '../helpers/assertions.js';
import { OTHER_AUTHORIZATION, gatewayFor, XUIDS } from '../helpers/test-app.js';

const QUERY = `xuids=${XUIDS[0]}`;
/** A limit of 3 per 2 s: long enough that a slow machine stays within one window. */
const LIMITED = { RATE_LIMIT_PER_CALLER: '3', RATE_LIMIT_WINDOW_MS: '2000' };

/** The `RateLimit-*` headers of a response. */
function rateLimitHeaders(res: supertest.Response): [string?, string?, string?] {
  return [
    res.headers['ratelimit-limit'],
    res.headers['ratelimit-remaining'],
    res.headers['ratelimit-reset'],
  ];
}

test('when a caller makes a 4th request within the window of a limit of 3, it gets 429 with Retry-After and RateLimit headers and nothing goes upstream', async (t) => {
  const gw = await gatewayFor(t, { env: LIMITED });

  const allowed = [];
  for (let i = 0; i < 3; i++) allowed.push(await gw.getCards(QUERY));
  const callsBefore = gw.upstreams.calls.length;
  const refused = await gw.getCards(QUERY);

  for (const [i, res] of allowed.entries()) {
    cardsOf(res);
    assert.deepEqual(
      rateLimitHeaders(res),
      ['3', String(2 - i), '2'],
      `allowed request ${String(i + 1)} carries limit, remaining and reset`,
    );
  }
  assertProblem(refused, 429, 'rate_limited');
  assert.equal(refused.headers['retry-after'], '2', 'Retry-After in whole seconds');
  assert.deepEqual(rateLimitHeaders(refused), ['3', '0', '2'], 'the 429 carries them too');
  assert.equal(gw.upstreams.calls.length, callsBefore, 'the refused request calls no upstream');
});

test('when one caller is over the limit, another caller is served', async (t) => {
  const gw = await gatewayFor(t, { env: LIMITED });

  for (let i = 0; i < 4; i++) await gw.getCards(QUERY);
  const other = await gw.getCards(QUERY, OTHER_AUTHORIZATION);

  cardsOf(other);
  assert.equal(other.headers['ratelimit-remaining'], '2', 'the other caller has its own count');
});

test('when the window has passed, a caller over the limit is served again', async (t) => {
  const gw = await gatewayFor(t, { env: { ...LIMITED, RATE_LIMIT_WINDOW_MS: '1000' } });
  for (let i = 0; i < 3; i++) cardsOf(await gw.getCards(QUERY));
  const refused = await gw.getCards(QUERY);
  assert.equal(refused.status, 429, 'over the limit');

  await new Promise((resolve) => setTimeout(resolve, 1100));
  const again = await gw.getCards(QUERY);

  cardsOf(again);
  assert.equal(again.headers['ratelimit-remaining'], '2', 'a new window starts');
});

test('when requests carry no valid Authorization, they get 401 before the rate limit and count for nobody', async (t) => {
  const gw = await gatewayFor(t, { env: LIMITED });
  const path = `/friends-with-profiles?${QUERY}`;

  const missing = await supertest(gw.app).get(path);
  const malformed = await supertest(gw.app).get(path).set('Authorization', 'XBL3.0 x=;token');
  const bearer = await supertest(gw.app).get(path).set('Authorization', 'Bearer abc');
  for (let i = 0; i < 5; i++) await supertest(gw.app).get(path);
  const valid = await gw.getCards(QUERY);

  for (const res of [missing, malformed, bearer]) {
    assertProblem(res, 401, 'missing_authorization');
    assert.equal(res.headers['ratelimit-limit'], undefined, 'a 401 is not counted');
  }
  assert.equal(gw.deps.state.rateLimit?.stats().counted, 1, 'only the valid request counted');
  assert.equal(valid.headers['ratelimit-remaining'], '2', 'the caller has its whole limit');
});

test('when a caller sends a bad query, the request counts toward its limit', async (t) => {
  const gw = await gatewayFor(t, { env: LIMITED });

  const bad = await gw.getCards('xuids=12a');
  const next = await gw.getCards(QUERY);

  assertProblem(bad, 400, 'invalid_query');
  assert.equal(bad.headers['ratelimit-remaining'], '2', 'the 400 was counted');
  assert.equal(next.headers['ratelimit-remaining'], '1', 'and the next request sees it');
});

test('when RATE_LIMIT_PER_CALLER is unset, there is no limit and no RateLimit header', async (t) => {
  const gw = await gatewayFor(t);

  const answers = [];
  for (let i = 0; i < 5; i++) answers.push(await gw.getCards(QUERY));

  for (const res of answers) {
    cardsOf(res);
    assert.deepEqual(rateLimitHeaders(res), [undefined, undefined, undefined], 'no headers');
  }
  assert.equal(gw.deps.state.rateLimit, undefined, 'no limiter is built');
});
