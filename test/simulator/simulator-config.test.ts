import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  loadSimulatorConfig,
  readSimulatorDefaults,
  simulatorSettingsSchema,
  SimulatorConfigError,
} from '../../src/simulator/simulator-config.js';
import { QUIET_FAULTS } from '../helpers/simulator-server.js';

test('when nothing is set, the simulator uses the defaults of config/simulator.json', () => {
  const config = loadSimulatorConfig({});

  assert.equal(config.listen.port, 8081, 'PORT defaults to 8081');
  assert.equal(config.listen.host, '0.0.0.0', 'HOST defaults to 0.0.0.0');
  assert.equal(config.population.size, 5000, 'SIM_POPULATION_SIZE defaults to 5000');
  assert.equal(config.maxBatchSize, 100, 'SIM_MAX_BATCH defaults to 100');
  assert.equal(config.rateLimit.isEnabled, true, 'SIM_RATE_LIMIT defaults to on');
  assert.equal(config.rateLimit.scale, 1, 'SIM_RATE_LIMIT_SCALE defaults to 1');
  assert.equal(config.faults.profile.latencyMs, 0, 'no latency is injected by default');
  assert.deepEqual(config.faults.profile, QUIET_FAULTS, 'no fault is injected by default');
});

test('when variables are set, they override the defaults and empty ones are ignored', () => {
  const config = loadSimulatorConfig({
    PORT: '0',
    SIM_PROFILE_LATENCY_MS: '25',
    SIM_PRIVACY_ERROR_RATE: '0.25',
    SIM_PRIVACY_ERROR_STATUS: '502, 504',
    SIM_SOCIAL_JITTER_MS: '40',
    SIM_SOCIAL_HANG_RATE: '0.1',
    SIM_PROFILE_RETRY_AFTER_SECONDS: '5',
    SIM_RATE_LIMIT: 'off',
    SIM_RATE_LIMIT_SCALE: '2.5',
    SIM_SEED: '',
  });

  assert.equal(config.listen.port, 0, 'PORT=0 is accepted');
  assert.equal(config.faults.profile.latencyMs, 25, 'profile latency comes from the env');
  assert.equal(config.faults.privacy.errorRate, 0.25, 'privacy error rate is a fraction');
  assert.deepEqual(config.faults.privacy.errorStatus, [502, 504], 'statuses are a list');
  assert.equal(config.faults.social.jitterMs, 40, 'jitter is per service');
  assert.equal(config.faults.profile.jitterMs, 0, 'another service keeps its jitter');
  assert.equal(config.faults.social.hangRate, 0.1, 'hang rate comes from the env');
  assert.equal(config.faults.profile.retryAfterSeconds, 5, 'Retry-After comes from the env');
  assert.equal(config.rateLimit.isEnabled, false, 'SIM_RATE_LIMIT=off turns limiting off');
  assert.equal(config.rateLimit.scale, 2.5, 'the scale may be fractional');
  assert.equal(config.population.seed, 1, 'an empty SIM_SEED falls back to the default');
});

test('when a variable is invalid, the error names it, says why and quotes the value', () => {
  assert.throws(
    () => loadSimulatorConfig({ SIM_PROFILE_LATENCY_MS: 'x' }),
    (error: unknown) => {
      assert.ok(error instanceof SimulatorConfigError, 'a SimulatorConfigError is thrown');
      assert.equal(
        error.message,
        "Cannot start simulator: SIM_PROFILE_LATENCY_MS must be a whole number (got 'x')",
        'the message follows the error grammar',
      );
      return true;
    },
  );
});

test('when several variables are invalid, the error names each of them', () => {
  assert.throws(
    () =>
      loadSimulatorConfig({
        SIM_SOCIAL_ERROR_RATE: '1.5',
        SIM_PROFILE_ERROR_STATUS: '200',
        SIM_RATE_LIMIT: 'maybe',
        SIM_POPULATION_SIZE: '3',
        PORT: '70000',
      }),
    (error: unknown) => {
      assert.ok(error instanceof Error, 'an Error is thrown');
      for (const name of [
        'SIM_SOCIAL_ERROR_RATE',
        'SIM_PROFILE_ERROR_STATUS',
        'SIM_RATE_LIMIT',
        'SIM_POPULATION_SIZE',
        'PORT',
      ]) {
        assert.match(error.message, new RegExp(`${name} `), `the message names ${name}`);
      }
      return true;
    },
  );
});

test('when an error status is not a list of 4xx or 5xx statuses, start-up is refused', () => {
  for (const value of ['abc', '500,', '503 504', '99', '600']) {
    assert.throws(
      () => loadSimulatorConfig({ SIM_SOCIAL_ERROR_STATUS: value }),
      /SIM_SOCIAL_ERROR_STATUS must be a status from 400 to 599/,
      `'${value}' is refused`,
    );
  }
});

test('when a setting of an earlier version is set, start-up is refused naming its replacement', () => {
  assert.throws(
    () => loadSimulatorConfig({ SIM_MALFORMED_RATE: '0.1', SIM_PROFILE_FAILURE_RATE: '0.2' }),
    (error: unknown) => {
      assert.ok(error instanceof SimulatorConfigError, 'a SimulatorConfigError is thrown');
      assert.match(
        error.message,
        /SIM_MALFORMED_RATE is no longer read: set SIM_SOCIAL_MALFORMED_RATE/,
      );
      assert.match(
        error.message,
        /SIM_PROFILE_FAILURE_RATE is no longer read: set SIM_PROFILE_ERROR_RATE/,
      );
      return true;
    },
  );
});

test('when SIM_RATE_LIMIT_SCALE is zero, start-up is refused', () => {
  assert.throws(
    () => loadSimulatorConfig({ SIM_RATE_LIMIT_SCALE: '0' }),
    /SIM_RATE_LIMIT_SCALE must be a positive number \(got '0'\)/,
    'a zero scale is refused (SIM_RATE_LIMIT=false turns limiting off)',
  );
});

test('when the configuration is loaded, it is frozen all the way down', () => {
  const config = loadSimulatorConfig({});

  assert.ok(Object.isFrozen(config), 'the top level is frozen');
  assert.ok(Object.isFrozen(config.faults.social), 'nested groups are frozen');
});

test('every setting has a default in config/simulator.json and a description, and vice versa', () => {
  const defaults = readSimulatorDefaults();
  const names = Object.keys(simulatorSettingsSchema.shape).sort();

  assert.deepEqual(Object.keys(defaults).sort(), names, 'defaults and schema name the same keys');
  for (const [name, schema] of Object.entries(simulatorSettingsSchema.shape)) {
    assert.ok((schema.description ?? '').length > 0, `${name} has a one-line description`);
  }
});
