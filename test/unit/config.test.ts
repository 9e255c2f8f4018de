import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, settingsSchema } from '../../src/config.js';
import type { Config } from '../../src/config.js';

/** Runs `loadConfig(env)` and returns the ConfigError it throws, failing when it does not. */
function configErrorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(
      error instanceof ConfigError,
      `a bad setting throws ConfigError, got ${String(error)}`,
    );
    return error;
  }
  assert.fail(`loadConfig accepted ${JSON.stringify(env)}`);
}

/** Every object reachable from `value`, with its path. */
function objectsIn(value: object, path = 'config'): [string, object][] {
  return [
    [path, value],
    ...Object.entries(value).flatMap(([key, child]) =>
      typeof child === 'object' && child !== null
        ? objectsIn(child as object, `${path}.${key}`)
        : [],
    ),
  ];
}

const NUMERIC_SETTINGS = [
  'PORT',
  'REQUEST_DEADLINE_MS',
  'PROFILE_CACHE_TTL_MS',
  'PROFILE_CACHE_STALE_MS',
  'PROFILE_CACHE_MAX_BYTES',
  'REDIS_TIMEOUT_MS',
  'RATE_LIMIT_PER_CALLER',
  'RATE_LIMIT_WINDOW_MS',
  'MAX_XUIDS_PER_REQUEST',
  'UPSTREAM_BATCH_SIZE',
  'UPSTREAM_CONNECTIONS',
  'UPSTREAM_TIMEOUT_MS',
  'UPSTREAM_MAX_BODY_BYTES',
  'MAX_IN_FLIGHT_REQUESTS',
  'HEADERS_TIMEOUT_MS',
  'SHUTDOWN_GRACE_MS',
  'SHUTDOWN_DELAY_MS',
  'MAX_EVENT_LOOP_DELAY_MS',
] as const;

const URL_SETTINGS = ['XBL_SOCIAL_URL', 'XBL_PROFILE_URL', 'XBL_PRIVACY_URL'] as const;

describe('loadConfig defaults', () => {
  test('when the environment is empty, every setting takes its documented default', () => {
    const env = {};

    const config = loadConfig(env);

    const expected: Config = {
      listen: { port: 8080, host: '0.0.0.0' },
      logLevel: 'info',
      upstreams: {
        socialUrl: 'https://social.xboxlive.com',
        profileUrl: 'https://profile.xboxlive.com',
        privacyUrl: 'https://privacy.xboxlive.com',
        batchSize: 100,
        connections: 64,
        maxQueued: 512,
        timeoutMs: 1000,
        maxBodyBytes: 1_048_576,
        retries: 2,
        retryBudgetRatio: 0.2,
        breaker: { failureThreshold: 5, halfOpenAfterMs: 5000 },
      },
      requests: { deadlineMs: 1000, maxXuids: 100, maxInFlight: 1000, maxEventLoopDelayMs: 1000 },
      profileCache: { ttlMs: 60_000, staleMs: 600_000, maxBytes: 67_108_864 },
      redis: { url: undefined, timeoutMs: 50 },
      rateLimit: { perCaller: undefined, windowMs: 60_000 },
      workers: 1,
      server: { headersTimeoutMs: 10_000, shutdownGraceMs: 10_000, shutdownDelayMs: 0 },
    };
    assert.deepEqual(config, expected, 'the defaults of API.md and config/defaults.json apply');
  });

  test('when a variable is set to the empty string, its default applies', () => {
    const env = { PORT: '', LOG_LEVEL: '', XBL_SOCIAL_URL: '' };

    const config = loadConfig(env);

    assert.equal(config.listen.port, 8080, 'empty PORT means the default');
    assert.equal(config.logLevel, 'info', 'empty LOG_LEVEL means the default');
    assert.equal(
      config.upstreams.socialUrl,
      'https://social.xboxlive.com',
      'empty URL means default',
    );
  });

  test('when variables are set, they override the defaults', () => {
    const env = {
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      REQUEST_DEADLINE_MS: '250',
      PROFILE_CACHE_TTL_MS: '0',
      XBL_PRIVACY_URL: 'http://localhost:9000',
    };

    const config = loadConfig(env);

    assert.equal(config.listen.port, 0, 'PORT 0 is allowed (any free port)');
    assert.equal(config.listen.host, '127.0.0.1', 'HOST is taken');
    assert.equal(config.logLevel, 'warn', 'LOG_LEVEL is taken');
    assert.equal(config.requests.deadlineMs, 250, 'REQUEST_DEADLINE_MS is a number');
    assert.equal(config.profileCache.ttlMs, 0, 'PROFILE_CACHE_TTL_MS may be zero');
    assert.equal(config.upstreams.privacyUrl, 'http://localhost:9000', 'an http URL is taken');
  });

  test('when variables outside the schema are present, they are ignored', () => {
    const env = { PATH: '/usr/bin', HOME: '/root', SOMETHING_ELSE: 'x' };

    const config = loadConfig(env);

    assert.equal(config.listen.port, 8080, 'unrelated variables change nothing');
  });

  test('when every known LOG_LEVEL is given, each is accepted', () => {
    const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

    const loaded = levels.map((level) => loadConfig({ LOG_LEVEL: level }).logLevel);

    assert.deepEqual(loaded, [...levels], 'every pino level is accepted');
  });
});

describe('loadConfig rejecting bad values', () => {
  for (const name of NUMERIC_SETTINGS) {
    for (const value of ['abc', '-1', '1.5', '12ms', '1e3', '99999999999999']) {
      test(`when ${name} is '${value}', loadConfig throws a ConfigError naming ${name}`, () => {
        const env = { [name]: value };

        const error = configErrorOf(env);

        assert.ok(error.message.includes(name), `the message names ${name}: ${error.message}`);
      });
    }
  }

  for (const name of URL_SETTINGS) {
    for (const value of [
      'ftp://social.example.com',
      'not a url',
      'file:///etc/passwd',
      'social.xboxlive.com',
    ]) {
      test(`when ${name} is '${value}', loadConfig throws a ConfigError naming ${name}`, () => {
        const env = { [name]: value };

        const error = configErrorOf(env);

        assert.ok(error.message.includes(name), `the message names ${name}: ${error.message}`);
      });
    }
  }

  for (const value of ['verbose', 'INFO', 'warning', '10']) {
    test(`when LOG_LEVEL is '${value}', loadConfig throws a ConfigError naming LOG_LEVEL`, () => {
      const env = { LOG_LEVEL: value };

      const error = configErrorOf(env);

      assert.ok(
        error.message.includes('LOG_LEVEL'),
        `the message names LOG_LEVEL: ${error.message}`,
      );
    });
  }

  test('when PORT is 65536, loadConfig throws a ConfigError naming PORT', () => {
    const env = { PORT: '65536' };

    const error = configErrorOf(env);

    assert.ok(error.message.includes('PORT'), `the message names PORT: ${error.message}`);
  });

  test('when REQUEST_DEADLINE_MS is 0, loadConfig throws a ConfigError naming it', () => {
    const env = { REQUEST_DEADLINE_MS: '0' };

    const error = configErrorOf(env);

    assert.ok(
      error.message.includes('REQUEST_DEADLINE_MS'),
      `the message names it: ${error.message}`,
    );
  });

  test('when several variables are bad, the one ConfigError names each of them and only them', () => {
    const env = {
      PORT: 'eighty',
      LOG_LEVEL: 'loud',
      XBL_PROFILE_URL: 'ftp://x',
      HOST: '127.0.0.1',
    };

    const error = configErrorOf(env);

    for (const name of ['PORT', 'LOG_LEVEL', 'XBL_PROFILE_URL']) {
      assert.ok(error.message.includes(name), `the message names ${name}: ${error.message}`);
    }
    assert.ok(!error.message.includes('HOST'), 'a good variable is not named');
  });

  test('when a value is bad, the ConfigError has the name ConfigError and quotes the value', () => {
    const env = { UPSTREAM_TIMEOUT_MS: 'soon' };

    const error = configErrorOf(env);

    assert.equal(error.name, 'ConfigError', 'the error is named ConfigError');
    assert.ok(error.message.includes('soon'), `the message shows the bad value: ${error.message}`);
  });
});

describe('loadConfig and REDIS_URL', () => {
  test('when REDIS_URL is a redis or rediss URL, it is taken as given', () => {
    const urls = ['redis://127.0.0.1:6379', 'rediss://user:pw@cache.example.com:6380/2'];

    const loaded = urls.map((url) => loadConfig({ REDIS_URL: url }).redis.url);

    assert.deepEqual(loaded, urls, 'both URLs are kept');
  });

  for (const value of [
    'http://:hunter2-secret@cache.example.com',
    'hunter2-secret',
    'redis://',
    'redis:// hunter2-secret',
  ]) {
    test(`when REDIS_URL is '${value}', the ConfigError names REDIS_URL but never shows the value`, () => {
      const env = { REDIS_URL: value };

      const error = configErrorOf(env);

      assert.ok(error.message.includes('REDIS_URL'), `the message names it: ${error.message}`);
      assert.ok(!error.message.includes('hunter2'), `no password in it: ${error.message}`);
    });
  }
});

describe('loadConfig and the rate limit', () => {
  test('when RATE_LIMIT_PER_CALLER and RATE_LIMIT_WINDOW_MS are set, both are taken', () => {
    const env = { RATE_LIMIT_PER_CALLER: '3', RATE_LIMIT_WINDOW_MS: '2000' };

    const config = loadConfig(env);

    assert.deepEqual(config.rateLimit, { perCaller: 3, windowMs: 2000 }, 'limit and window');
  });

  for (const value of ['1500', '999', '0']) {
    test(`when RATE_LIMIT_WINDOW_MS is '${value}', not whole seconds of at least one, the ConfigError names it`, () => {
      const error = configErrorOf({ RATE_LIMIT_WINDOW_MS: value });

      assert.ok(error.message.includes('RATE_LIMIT_WINDOW_MS'), `names it: ${error.message}`);
    });
  }

  test('when RATE_LIMIT_PER_CALLER is 0, the ConfigError names it: unset is the way to turn it off', () => {
    const error = configErrorOf({ RATE_LIMIT_PER_CALLER: '0' });

    assert.ok(error.message.includes('RATE_LIMIT_PER_CALLER'), `names it: ${error.message}`);
  });
});

describe('loadConfig result', () => {
  test('when a config is loaded, it and every nested object are frozen', () => {
    const config = loadConfig({});

    const objects = objectsIn(config);

    assert.ok(objects.length > 5, 'the config has nested groups to check');
    for (const [path, value] of objects) {
      assert.ok(Object.isFrozen(value), `${path} is frozen`);
    }
  });

  test('when code tries to change a loaded config, the change throws and nothing changes', () => {
    const config = loadConfig({});

    const changeTop = () => {
      (config as { logLevel: string }).logLevel = 'debug';
    };
    const changeNested = () => {
      (config.upstreams as { socialUrl: string }).socialUrl = 'http://evil.example';
    };
    const addMember = () => {
      (config.requests as unknown as Record<string, unknown>).extra = 1;
    };

    assert.throws(changeTop, TypeError, 'a top-level member cannot be assigned');
    assert.throws(changeNested, TypeError, 'a nested member cannot be assigned');
    assert.throws(addMember, TypeError, 'a member cannot be added');
    assert.equal(config.logLevel, 'info', 'logLevel is unchanged');
    assert.equal(
      config.upstreams.socialUrl,
      'https://social.xboxlive.com',
      'socialUrl is unchanged',
    );
  });

  test('when two configs are loaded, they are independent objects', () => {
    const first = loadConfig({ PORT: '1111' });

    const second = loadConfig({ PORT: '2222' });

    assert.equal(first.listen.port, 1111, 'the first keeps its port');
    assert.equal(second.listen.port, 2222, 'the second has its own port');
  });

  const slashCases: { given: string; expected: string }[] = [
    { given: 'http://127.0.0.1:9000/', expected: 'http://127.0.0.1:9000' },
    { given: 'https://social.example.com//', expected: 'https://social.example.com' },
    { given: 'http://127.0.0.1:9000/prefix/', expected: 'http://127.0.0.1:9000/prefix' },
    { given: 'http://127.0.0.1:9000/a/b', expected: 'http://127.0.0.1:9000/a/b' },
  ];
  for (const { given, expected } of slashCases) {
    test(`when a base URL is '${given}', it is kept as '${expected}' for every upstream`, () => {
      const env = { XBL_SOCIAL_URL: given, XBL_PROFILE_URL: given, XBL_PRIVACY_URL: given };

      const config = loadConfig(env);

      assert.equal(config.upstreams.socialUrl, expected, 'social base URL has no trailing slash');
      assert.equal(config.upstreams.profileUrl, expected, 'profile base URL has no trailing slash');
      assert.equal(config.upstreams.privacyUrl, expected, 'privacy base URL has no trailing slash');
    });
  }

  test('when the schema is listed, every numeric and URL setting this suite checks is in it', () => {
    const names = Object.keys(settingsSchema.shape);

    const missing = [...NUMERIC_SETTINGS, ...URL_SETTINGS, 'LOG_LEVEL', 'HOST'].filter(
      (name) => !names.includes(name),
    );

    assert.deepEqual(missing, [], 'the suite checks settings that exist');
  });
});
