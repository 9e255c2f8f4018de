import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FriendCardsResult } from '../../src/friend-cards/friend-card.js';
import { emptyPeople } from '../helpers/fake-upstreams.js';
import type { Responder } from '../helpers/fake-upstreams.js';
import {
  AUTHORIZATION,
  OTHER_AUTHORIZATION,
  startTestGateway,
  XUIDS,
} from '../helpers/test-app.js';

const QUERY = `xuids=${XUIDS[0]}`;

/** Answers 429 to the first caller's token and `otherwise` to everyone else. */
function throttleFirstCaller(retryAfter: string | undefined, otherwise: Responder): Responder {
  return (call) =>
    call.headers.authorization === AUTHORIZATION
      ? {
          status: 429,
          headers: retryAfter === undefined ? {} : { 'retry-after': retryAfter },
          body: {
            version: 1,
            currentRequests: 11,
            maxRequests: 10,
            periodInSeconds: 15,
            limitType: 'Rate',
          },
        }
      : otherwise(call);
}

test('when social throttles a caller, that caller is not sent to social again until Retry-After has passed', async (t) => {
  let nowMs = 1_000_000;
  const gw = await startTestGateway({
    responders: { social: throttleFirstCaller('3', emptyPeople) },
    now: () => nowMs,
  });
  t.after(() => gw.close());

  const first = await gw.getCards(QUERY);
  nowMs += 2_000;
  const held = await gw.getCards(QUERY);
  const callsWhileHeld = gw.upstreams.callsTo('social').length;
  nowMs += 1_001;
  await gw.getCards(QUERY);

  assert.equal(first.status, 200, 'the first request is still served');
  assert.deepEqual(
    (first.body as FriendCardsResult).errors,
    [{ upstream: 'social', code: 'throttled', status: 429 }],
    'the first answer reports the upstream 429',
  );
  assert.equal(held.status, 200, 'the held-back request is served without its social part');
  assert.deepEqual(
    (held.body as FriendCardsResult).errors,
    [{ upstream: 'social', code: 'throttled' }],
    'the held-back part is throttled, with no upstream status since nothing was sent',
  );
  assert.equal(callsWhileHeld, 1, 'social is not called again before Retry-After');
  assert.equal(
    gw.upstreams.callsTo('social').length,
    2,
    'social is called again after Retry-After',
  );
  assert.equal(
    gw.upstreams.callsTo('privacy').length,
    3,
    'privacy, which did not throttle, is called every time',
  );
});

test('when social throttles one caller, another caller is not held back', async (t) => {
  const gw = await startTestGateway({
    responders: { social: throttleFirstCaller('60', emptyPeople) },
  });
  t.after(() => gw.close());

  await gw.getCards(QUERY);
  const other = await gw.getCards(QUERY, OTHER_AUTHORIZATION);

  assert.equal(other.status, 200, 'the other caller is served');
  assert.equal(
    (other.body as FriendCardsResult).partial,
    false,
    "the other caller's answer is whole",
  );
  assert.equal(gw.upstreams.callsTo('social').length, 2, 'social is called for the other caller');
});

test('when a 429 has no Retry-After, the caller is held back for one second', async (t) => {
  let nowMs = 1_000_000;
  const gw = await startTestGateway({
    responders: { social: throttleFirstCaller(undefined, emptyPeople) },
    now: () => nowMs,
  });
  t.after(() => gw.close());

  await gw.getCards(QUERY);
  nowMs += 900;
  await gw.getCards(QUERY);
  const callsWithinASecond = gw.upstreams.callsTo('social').length;
  nowMs += 200;
  await gw.getCards(QUERY);

  assert.equal(callsWithinASecond, 1, 'no social call within the default second');
  assert.equal(gw.upstreams.callsTo('social').length, 2, 'social is called again after it');
});

test('when every upstream throttles the caller, later requests get 429 with the remaining wait and call nothing', async (t) => {
  let nowMs = 1_000_000;
  const throttled = throttleFirstCaller('10', emptyPeople);
  const gw = await startTestGateway({
    responders: { social: throttled, profile: throttled, privacy: throttled },
    now: () => nowMs,
  });
  t.after(() => gw.close());

  const first = await gw.getCards(QUERY);
  nowMs += 4_000;
  const second = await gw.getCards(QUERY);

  assert.equal(first.status, 429, 'nothing could be served: 429');
  assert.equal(first.headers['retry-after'], '10', "the client waits the upstreams' Retry-After");
  assert.equal(second.status, 429, 'still throttled: 429');
  assert.equal(
    second.headers['retry-after'],
    '6',
    'the client waits only what remains, in whole seconds',
  );
  assert.equal(gw.upstreams.calls.length, 3, 'the second request sent no upstream call');
});
