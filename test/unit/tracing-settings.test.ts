import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readTracingSettings } from '../../src/tracing/tracing.js';
import { tracing } from '../../src/upstreams/policies/tracing.js';
import type { SendUpstream } from '../../src/upstreams/upstream-pipeline.js';

const ENDPOINT = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };

test('when no OTLP endpoint is set, tracing is off', () => {
  const settings = readTracingSettings({
    OTEL_SERVICE_NAME: 'x',
    OTEL_TRACES_SAMPLER: 'always_on',
  });

  assert.deepEqual(settings, { isEnabled: false, reason: 'no OTLP endpoint is set' });
});

test('when either OTLP endpoint is set, tracing is on with the traces URL it exports to', () => {
  const base = readTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' });
  const traces = readTracingSettings({
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://user:secret@traces.example:443/otlp/traces',
  });

  assert.equal(
    base.isEnabled && base.endpoint,
    'http://collector:4318/v1/traces',
    'base + /v1/traces',
  );
  assert.equal(
    traces.isEnabled && traces.endpoint,
    'https://traces.example/otlp/traces',
    'the traces endpoint as given, without its credentials',
  );
});

test('when OTEL_SDK_DISABLED is true or OTEL_TRACES_EXPORTER names no otlp exporter, tracing is off despite an endpoint', () => {
  const cases = [
    { OTEL_SDK_DISABLED: 'true' },
    { OTEL_SDK_DISABLED: ' TRUE ' },
    { OTEL_TRACES_EXPORTER: 'none' },
    { OTEL_TRACES_EXPORTER: 'otlp,none' },
    { OTEL_TRACES_EXPORTER: 'console' },
  ];

  for (const env of cases) {
    const settings = readTracingSettings({ ...ENDPOINT, ...env });
    assert.equal(settings.isEnabled, false, `off with ${JSON.stringify(env)}`);
  }
  assert.equal(
    readTracingSettings({ ...ENDPOINT, OTEL_SDK_DISABLED: 'false' }).isEnabled,
    true,
    'OTEL_SDK_DISABLED=false leaves tracing on',
  );
});

test('when the sampler and batch variables are set, they are read as the specification says', () => {
  const settings = readTracingSettings({
    ...ENDPOINT,
    OTEL_SERVICE_NAME: ' cards-eu ',
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: '0.25',
    OTEL_BSP_SCHEDULE_DELAY: '200',
    OTEL_BSP_MAX_QUEUE_SIZE: '4096',
  });

  assert.ok(settings.isEnabled, 'tracing is on');
  assert.deepEqual(
    {
      serviceName: settings.serviceName,
      sampler: settings.sampler,
      ratio: settings.samplerRatio,
      batch: settings.batch,
      warnings: settings.warnings,
    },
    {
      serviceName: 'cards-eu',
      sampler: 'parentbased_traceidratio',
      ratio: 0.25,
      batch: {
        scheduledDelayMillis: 200,
        exportTimeoutMillis: undefined,
        maxQueueSize: 4096,
        maxExportBatchSize: undefined,
      },
      warnings: [],
    },
    'each variable lands in its setting; absent ones keep the SDK defaults',
  );
});

test('when a tracing variable has a value the gateway cannot use, the default applies and a warning names it', () => {
  const settings = readTracingSettings({
    ...ENDPOINT,
    OTEL_TRACES_EXPORTER: 'otlp,zipkin',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    OTEL_TRACES_SAMPLER: 'jaeger_remote',
    OTEL_TRACES_SAMPLER_ARG: '1.5',
    OTEL_BSP_EXPORT_TIMEOUT: '-1',
  });

  assert.ok(settings.isEnabled, 'tracing stays on');
  assert.equal(settings.sampler, 'parentbased_always_on', 'the default sampler');
  assert.equal(settings.samplerRatio, 1, 'the default ratio');
  assert.equal(settings.batch.exportTimeoutMillis, undefined, 'the default export timeout');
  assert.deepEqual(
    settings.warnings.map((warning) => warning.split(':')[0]),
    [
      'OTEL_TRACES_EXPORTER',
      'OTEL_EXPORTER_OTLP_PROTOCOL',
      'OTEL_TRACES_SAMPLER',
      'OTEL_TRACES_SAMPLER_ARG',
      'OTEL_BSP_EXPORT_TIMEOUT',
    ],
    'one warning per unusable variable, naming it',
  );
});

test('when tracing is off, the tracing policy is the next step itself', () => {
  const next: SendUpstream = () => Promise.reject(new Error('not called'));

  assert.equal(tracing({})(next), next, 'no wrapper, so no span and no allocation per call');
  assert.equal(
    tracing({ tracer: undefined, baseUrl: 'http://127.0.0.1:1' })(next),
    next,
    'a base URL alone does not switch tracing on',
  );
});
