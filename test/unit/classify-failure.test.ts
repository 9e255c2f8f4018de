import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { errors, request } from 'undici';
import { classifyFailure, parseRetryAfter } from '../../src/upstreams/upstream-http.js';

/** An Error carrying a Node-style `code`, as sockets and undici raise them. */
function codedError(code: string, message = 'upstream call failed'): Error {
  return Object.assign(new Error(message), { code });
}

/** The error a real undici request raises against a port nobody listens on. */
async function refusedConnectionError(): Promise<unknown> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  try {
    await request(`http://127.0.0.1:${port}/`, { method: 'POST', body: '{}' });
  } catch (error) {
    return error;
  }
  assert.fail('a request to a closed port must fail');
}

/** The reason an `AbortSignal.timeout` aborts with, as the request deadline does. */
async function deadlineReason(): Promise<unknown> {
  const signal = AbortSignal.timeout(1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  return signal.reason;
}

describe('classifyFailure', () => {
  for (const code of [
    'UND_ERR_HEADERS_TIMEOUT',
    'UND_ERR_BODY_TIMEOUT',
    'UND_ERR_CONNECT_TIMEOUT',
    'ETIMEDOUT',
  ]) {
    test(`when an error has code ${code}, it is a timeout`, () => {
      const error = codedError(code);

      const failure = classifyFailure(error);

      assert.equal(failure.kind, 'timeout', `${code} is a timeout`);
      assert.equal(failure.cause, error, 'the original error is kept as cause');
      assert.equal(failure.status, undefined, 'a transport failure has no upstream status');
    });
  }

  for (const [name, make] of [
    ['HeadersTimeoutError', () => new errors.HeadersTimeoutError()],
    ['BodyTimeoutError', () => new errors.BodyTimeoutError()],
    ['ConnectTimeoutError', () => new errors.ConnectTimeoutError()],
    ['RequestAbortedError', () => new errors.RequestAbortedError()],
  ] as const) {
    test(`when undici raises its own ${name}, it is a timeout`, () => {
      const error = make();

      const failure = classifyFailure(error);

      assert.equal(failure.kind, 'timeout', `undici's ${name} is a timeout`);
    });
  }

  test('when the request deadline fires (AbortSignal.timeout reason, a TimeoutError), it is a timeout', async () => {
    const reason = await deadlineReason();

    const failure = classifyFailure(reason);

    assert.equal(failure.kind, 'timeout', 'the deadline abort is a timeout');
    assert.equal(failure.cause, reason, 'the reason is kept as cause');
  });

  test('when a call is aborted (AbortError), it is a timeout', () => {
    const controller = new AbortController();
    controller.abort();

    const failure = classifyFailure(controller.signal.reason);

    assert.equal(failure.kind, 'timeout', 'an AbortError is a timeout');
  });

  test('when an error is only named AbortError or TimeoutError, it is a timeout', () => {
    const abort = Object.assign(new Error('x'), { name: 'AbortError' });
    const timeout = new DOMException('deadline', 'TimeoutError');

    const failures = [classifyFailure(abort), classifyFailure(timeout)];

    assert.deepEqual(
      failures.map((f) => f.kind),
      ['timeout', 'timeout'],
      'classified by name',
    );
  });

  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE', 'ENOTFOUND']) {
    test(`when an error has code ${code}, it is unavailable`, () => {
      const error = codedError(code);

      const failure = classifyFailure(error);

      assert.equal(failure.kind, 'unavailable', `${code} is unavailable`);
      assert.equal(failure.cause, error, 'the original error is kept as cause');
    });
  }

  test('when undici raises its own SocketError (the other side closed), it is unavailable', () => {
    const error = new errors.SocketError('other side closed');

    const failure = classifyFailure(error);

    assert.equal(failure.kind, 'unavailable', 'a socket error is unavailable');
  });

  test('when a real connection is refused, it is unavailable', async () => {
    const error = await refusedConnectionError();

    const failure = classifyFailure(error);

    assert.equal(failure.kind, 'unavailable', 'a refused connection is unavailable');
  });

  test('when JSON.parse throws a SyntaxError, it is bad_response', () => {
    let error: unknown;
    try {
      JSON.parse('{"people": [');
    } catch (caught) {
      error = caught;
    }

    const failure = classifyFailure(error);

    assert.equal(failure.kind, 'bad_response', 'unparsable JSON is a bad response');
    assert.equal(failure.cause, error, 'the SyntaxError is kept as cause');
  });

  test('when the body cap is exceeded (undici ResponseExceededMaxSizeError), it is bad_response', () => {
    const failure = classifyFailure(new errors.ResponseExceededMaxSizeError());

    assert.equal(failure.kind, 'bad_response', 'an oversize body is a bad response');
  });

  test('when the message says timeout but the code does not, it is classified by code, not by message', () => {
    const error = codedError('ECONNRESET', 'Headers timeout: the request timed out');

    const failure = classifyFailure(error);

    assert.equal(failure.kind, 'unavailable', 'message text is never read');
  });

  test('when an error has no code or known name, it is unavailable', () => {
    const error = new Error('something odd');

    const failure = classifyFailure(error);

    assert.equal(failure.kind, 'unavailable', 'unknown transport failures are unavailable');
  });

  test('when the thrown value is not an Error at all, it is classified without throwing', () => {
    const values: unknown[] = [undefined, null, 'boom', 42, { code: 123 }];

    const kinds = values.map((value) => classifyFailure(value).kind);

    assert.deepEqual(
      kinds,
      values.map(() => 'unavailable'),
      'odd values are unavailable',
    );
  });
});

describe('parseRetryAfter', () => {
  const NOW_MS = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');

  test('when Retry-After is delta seconds, it is that many seconds', () => {
    const values = ['7', '120', ' 30 ', '300'];

    const seconds = values.map((value) => parseRetryAfter(value, NOW_MS));

    assert.deepEqual(seconds, [7, 120, 30, 300], 'delta seconds are read as given');
  });

  test('when Retry-After is longer than the 300 s sustain window, the wait is capped at 300 s', () => {
    const seconds = ['301', '86400', '99999999999'].map((value) => parseRetryAfter(value, NOW_MS));

    assert.deepEqual(
      seconds,
      [300, 300, 300],
      'a hostile or huge Retry-After cannot block for long',
    );
  });

  test('when Retry-After is 0, the wait is at most one second and never negative', () => {
    const seconds = parseRetryAfter('0', NOW_MS);

    assert.ok(
      seconds !== undefined && seconds >= 0 && seconds <= 1,
      `0 gives 0 or 1, got ${String(seconds)}`,
    );
  });

  test('when Retry-After is an HTTP date, it is the whole seconds until then', () => {
    const seconds = parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', NOW_MS);

    assert.equal(seconds, 30, '30 s until the date');
  });

  test('when Retry-After is an HTTP date and now is mid-second, the wait is rounded up', () => {
    const seconds = parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', NOW_MS + 500);

    assert.equal(seconds, 30, '29.5 s rounds up to 30 whole seconds');
  });

  test('when Retry-After is an HTTP date in the past, the wait is at most one second and never negative', () => {
    const seconds = parseRetryAfter('Wed, 21 Oct 2015 07:00:00 GMT', NOW_MS);

    assert.ok(
      seconds !== undefined && seconds >= 0 && seconds <= 1,
      `a past date gives 0 or 1, got ${String(seconds)}`,
    );
  });

  test('when Retry-After is absent, the result is undefined', () => {
    const seconds = parseRetryAfter(undefined, NOW_MS);

    assert.equal(seconds, undefined, 'absent means no value (the caller uses 1 s)');
  });

  test('when Retry-After is repeated, the first value counts', () => {
    const seconds = parseRetryAfter(['5', '60'], NOW_MS);

    assert.equal(seconds, 5, 'the first header value');
  });

  test('when Retry-After is garbage without digits, the result is undefined', () => {
    const values = [
      '',
      '   ',
      'soon',
      'tomorrow',
      'Infinity',
      'NaN',
      '0x10',
      '1e3',
      '12abc',
      '5 seconds',
    ];

    const results = values.map((value) => parseRetryAfter(value, NOW_MS));

    assert.deepEqual(
      results,
      values.map(() => undefined),
      `garbage is treated as absent: ${JSON.stringify(results)}`,
    );
  });

  test('when Retry-After is a signed or fractional number, it is not read as a longer wait', () => {
    const values = ['-1', '-30', '1.5', '+5'];

    const results = values.map((value) => parseRetryAfter(value, NOW_MS));

    assert.ok(
      results.every((seconds) => seconds === undefined || seconds === 1),
      `invalid delta seconds count as absent (1 s): ${JSON.stringify(results)}`,
    );
  });

  test('when Retry-After is text that Date.parse happens to accept, it is not read as a far-future date', () => {
    // RFC 9110 §10.2.3: Retry-After = HTTP-date / delay-seconds. V8's Date.parse is lenient and
    // reads "next 2030" as 1 January 2030, which would hold a caller back for years.
    const values = ['next 2030', 'retry in 2031'];

    const results = values.map((value) => parseRetryAfter(value, NOW_MS));

    assert.deepEqual(
      results,
      values.map(() => undefined),
      `text that is not an HTTP date is treated as absent: ${JSON.stringify(results)}`,
    );
  });
});
