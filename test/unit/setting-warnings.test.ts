import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CONTRACT_SETTINGS,
  ConfigError,
  loadConfig,
  nonDefaultSettings,
  settingsSchema,
  settingWarnings,
  withoutUserinfo,
} from '../../src/config.js';
import { findSettingWarnings, listenFailureMessage, redactUserinfo } from '../../src/settings.js';

/** The warnings of `env` by variable. */
function warningsFor(env: Record<string, string>) {
  return new Map(settingWarnings(env).map((warning) => [warning.variable, warning]));
}

describe('setting warnings', () => {
  test('when a contract setting the schema lacks is set, it warns as not supported; once in the schema it does not', () => {
    const inSchema = new Set(Object.keys(settingsSchema.shape));
    const env = Object.fromEntries(CONTRACT_SETTINGS.map((name) => [name, '1']));

    const warnings = warningsFor(env);

    for (const name of CONTRACT_SETTINGS) {
      if (inSchema.has(name)) {
        assert.equal(warnings.get(name), undefined, `${name} is in the schema: no warning`);
      } else {
        assert.equal(
          warnings.get(name)?.message,
          `${name} is set but not supported by this version; ignored`,
          `${name} is named by the contract but not read: warned`,
        );
      }
    }
  });

  test('when the schema gains a setting, its not-supported warning goes by itself', () => {
    const known = { prefixes: ['REDIS_'], unsupported: ['REDIS_URL'] };

    const before = findSettingWarnings({ REDIS_URL: 'redis://cache' }, { ...known, names: [] });
    const after = findSettingWarnings(
      { REDIS_URL: 'redis://cache' },
      { ...known, names: ['REDIS_URL'] },
    );

    assert.equal(before.length, 1, 'warned while the schema lacks it');
    assert.deepEqual(after, [], 'silent once the schema has it');
  });

  test('when the contract names WORKERS, REDIS_URL, REDIS_TIMEOUT_MS, rate limits and CORS, this version warns about each', () => {
    const env = {
      WORKERS: '4',
      REDIS_URL: 'redis://cache:6379',
      REDIS_TIMEOUT_MS: '50',
      RATE_LIMIT_PER_CALLER: '100',
      RATE_LIMIT_WINDOW_MS: '60000',
      CORS_ALLOWED_ORIGINS: 'https://game.example',
    };
    const inSchema = new Set(Object.keys(settingsSchema.shape));

    const warned = [...warningsFor(env).keys()];

    assert.deepEqual(
      warned,
      Object.keys(env)
        .filter((name) => !inSchema.has(name))
        .sort(),
      'each one the schema lacks, in name order',
    );
  });

  test('when a prefixed variable is a typo, it warns with the setting it most likely meant', () => {
    const warnings = warningsFor({
      XBL_PROFLE_URL: 'http://profile',
      UPSTREAM_RETRY: '1',
      REQUEST_DEADLINE: '900',
      SHUTDOWN_GRACE: '10',
    });

    assert.equal(
      warnings.get('XBL_PROFLE_URL')?.suggestion,
      'XBL_PROFILE_URL',
      'a letter left out',
    );
    assert.equal(warnings.get('UPSTREAM_RETRY')?.suggestion, 'UPSTREAM_RETRIES', 'a wrong form');
    assert.equal(warnings.get('REQUEST_DEADLINE')?.suggestion, 'REQUEST_DEADLINE_MS', 'no unit');
    assert.equal(warnings.get('SHUTDOWN_GRACE')?.suggestion, 'SHUTDOWN_GRACE_MS', 'no unit');
  });

  test('when an unprefixed variable is one edit from a setting, it warns; other variables do not', () => {
    const warnings = warningsFor({
      LOGLEVEL: 'debug',
      WORKER: '2',
      PATH: '/usr/bin',
      HOME: '/root',
      HOSTNAME: 'gateway-1',
      NODE_ENV: 'production',
      OTEL_SERVICE_NAME: 'friend-card-gateway',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      SIM_SEED: '1',
    });

    assert.deepEqual([...warnings.keys()], ['LOGLEVEL', 'WORKER'], 'only the two near misses');
    assert.equal(warnings.get('LOGLEVEL')?.suggestion, 'LOG_LEVEL', 'LOGLEVEL meant LOG_LEVEL');
    assert.equal(warnings.get('WORKER')?.suggestion, 'WORKERS', 'WORKER meant WORKERS');
  });

  test('when variables are known settings, or empty, nothing warns', () => {
    const env = Object.fromEntries(Object.keys(settingsSchema.shape).map((name) => [name, '1']));

    const warnings = settingWarnings({ ...env, XBL_PROFLE_URL: '', WORKERS: '' });

    assert.deepEqual(warnings, [], 'a known setting or an empty variable is not warned about');
  });
});

describe('non-default settings for the start-up line', () => {
  test('when settings equal their defaults they are left out, others are listed with URL userinfo redacted', () => {
    const env = {
      PORT: '8080',
      UPSTREAM_RETRIES: ' 2 ',
      REQUEST_DEADLINE_MS: '900',
      XBL_SOCIAL_URL: 'https://svc:hunter2@social.example',
      HOME: '/root',
    };

    const changed = nonDefaultSettings(env);

    assert.deepEqual(
      changed,
      { XBL_SOCIAL_URL: 'https://[redacted]@social.example', REQUEST_DEADLINE_MS: '900' },
      'only settings given another value; the password never shows',
    );
  });

  test('when an upstream URL carries credentials, the start-up form strips them', () => {
    assert.equal(
      withoutUserinfo('https://svc:hunter2@social.example:8443/base'),
      'https://social.example:8443/base',
      'user and password are gone, the rest stays',
    );
    assert.equal(withoutUserinfo('https://social.xboxlive.com'), 'https://social.xboxlive.com');
  });

  test('when a value has userinfo with or without a scheme, redactUserinfo hides it; other values stay', () => {
    const cases: [string, string][] = [
      ['redis://user:pa@ss@cache:6379/0', 'redis://[redacted]@cache:6379/0'],
      ['user:secret@host', '[redacted]@host'],
      ['https://social.example/path?q=a@b', 'https://social.example/path?q=a@b'],
      ['900', '900'],
    ];

    for (const [value, expected] of cases) {
      assert.equal(redactUserinfo(value), expected, `redactUserinfo('${value}')`);
    }
  });

  test('when a URL setting with a password is invalid, the start-up error names it without the password', () => {
    let message = '';

    try {
      loadConfig({ XBL_PRIVACY_URL: 'ftp://svc:hunter2@privacy.example' });
    } catch (error) {
      assert.ok(error instanceof ConfigError, 'a ConfigError');
      message = error.message;
    }

    assert.match(message, /^Cannot start: XBL_PRIVACY_URL must be an http or https URL/);
    assert.ok(!message.includes('hunter2'), `the password is not echoed: ${message}`);
  });
});

describe('listen failures', () => {
  test('when listen fails with a known code, the message is one line naming address and cause', () => {
    const cases: [string, string][] = [
      ['EADDRINUSE', 'address in use'],
      ['EACCES', 'permission denied'],
      ['ENOTFOUND', 'host not found'],
      ['EAI_AGAIN', 'host not found'],
      ['EADDRNOTAVAIL', 'address not available on this machine'],
    ];

    for (const [code, reason] of cases) {
      assert.equal(
        listenFailureMessage({ code, syscall: 'listen' }, { host: '0.0.0.0', port: 8080 }),
        `Cannot listen on 0.0.0.0:8080: ${reason}`,
        code,
      );
    }
  });

  test('when the host is IPv6 it is bracketed; when the error is not a listen failure there is no message', () => {
    assert.equal(
      listenFailureMessage({ code: 'EADDRINUSE' }, { host: '::', port: 80 }),
      'Cannot listen on [::]:80: address in use',
    );
    assert.equal(listenFailureMessage(new TypeError('bug'), { host: '::', port: 80 }), undefined);
    assert.equal(
      listenFailureMessage({ code: 'ERR_SOMETHING' }, { host: '::', port: 80 }),
      undefined,
    );
  });
});
