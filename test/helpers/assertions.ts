import assert from 'node:assert/strict';
import type { Response } from 'supertest';
import type { FriendCard, FriendCardsResult } from '../../src/friend-cards/friend-card.js';
import { PROBLEM_TYPE_PREFIX } from '../../src/http/problem-details.js';
import { sampleSetting } from './fake-upstreams.js';
import { DEFAULT_SETTINGS } from './test-app.js';

/** The RFC 9457 members every problem the gateway sends carries. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  requestId: string;
}

/** Asserts what every `code` problem shares, up to a string `detail`; not requestId. */
export function assertProblemBasics(res: Response, status: number, code: string): Problem {
  assert.equal(res.status, status, `status is ${status}, got ${res.status}: ${res.text}`);
  assert.match(
    res.headers['content-type'] ?? '',
    /^application\/problem\+json\b/,
    'content type is application/problem+json',
  );
  const body = res.body as Problem;
  assert.equal(body.type, PROBLEM_TYPE_PREFIX + code, `type names the ${code} problem`);
  assert.equal(typeof body.title, 'string', 'title is a string');
  assert.ok(body.title.length > 0, 'title is not empty');
  assert.equal(body.status, status, `status member repeats ${status}`);
  assert.equal(typeof body.detail, 'string', 'detail is a string');
  return body;
}

/** Asserts a whole `code` problem: the basics, a non-empty `detail` and the request id. */
export function assertProblem(res: Response, status: number, code: string): Problem {
  const body = assertProblemBasics(res, status, code);
  assert.ok(body.detail.length > 0, 'detail is not empty');
  assert.equal(body.requestId, res.headers['x-request-id'], 'requestId matches X-Request-Id');
  return body;
}

/** Asserts a 200 answer and returns its body as friend cards. */
export function cardsOf(res: Response): FriendCardsResult {
  assert.equal(res.status, 200, `expected a 200 with cards, got ${res.status}: ${res.text}`);
  return res.body as FriendCardsResult;
}

/** Reads a response body as friend cards without asserting anything (callers check the status). */
export function asCardsResult(body: unknown): FriendCardsResult {
  return body as FriendCardsResult;
}

/** Asserts `body` has a card for `xuid` and returns it. */
export function cardOf(body: FriendCardsResult, xuid: string): FriendCard {
  const card = body.cards.find((candidate) => candidate.xuid === xuid);
  assert.ok(card, `expected a card for XUID ${xuid}`);
  return card;
}

/** The profile the default profile responder gives `xuid` for `settings`, as a card shows it. */
export function sampleProfile(
  xuid: string,
  settings: readonly string[] = DEFAULT_SETTINGS,
): Record<string, string> {
  return Object.fromEntries(settings.map((setting) => [setting, sampleSetting(xuid, setting)]));
}
