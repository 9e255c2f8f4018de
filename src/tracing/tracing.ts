import { DiagLogLevel, diag } from '@opentelemetry/api';
import type { DiagLogger, Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  defaultResource,
  detectResources,
  resourceAttributesEnvDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type { Sampler } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Logger } from 'pino';

/** The environment as entry files pass it. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** The samplers of the SDK environment-variable specification that the SDK ships. */
const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
type SamplerName = (typeof SAMPLERS)[number];

/** `OTEL_BSP_*`: the batch span processor's settings; absent ones keep the SDK's defaults. */
export interface BatchSettings {
  readonly scheduledDelayMillis?: number;
  readonly exportTimeoutMillis?: number;
  readonly maxQueueSize?: number;
  readonly maxExportBatchSize?: number;
}

/** Tracing off with the reason, or on with what the `OTEL_*` variables asked for. */
export type TracingSettings =
  | { readonly isEnabled: false; readonly reason: string }
  | {
      readonly isEnabled: true;
      /** `OTEL_SERVICE_NAME`, which wins over `OTEL_RESOURCE_ATTRIBUTES` and the default. */
      readonly serviceName: string | undefined;
      readonly sampler: SamplerName;
      /** `OTEL_TRACES_SAMPLER_ARG`, for the ratio samplers: 0..1, 1 when absent or invalid. */
      readonly samplerRatio: number;
      readonly batch: BatchSettings;
      /** Where spans go, for the start-up log line (no credentials: those are headers). */
      readonly endpoint: string;
      /** Values that were ignored, each a sentence for the start-up log. */
      readonly warnings: readonly string[];
    };

/**
 * Reads the standard `OTEL_*` variables (OpenTelemetry SDK environment-variable specification)
 * into tracing settings. Tracing is on only when an OTLP endpoint is given
 * (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`), and off whatever else
 * is set when `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER` does not list `otlp`.
 *
 * The trace SDK's 3.x line reads none of these itself (its Node setup package does, together
 * with exporters and instrumentation this gateway does not want), so the few that concern a
 * tracer provider are read here with the specification's defaults; the OTLP exporter still
 * reads its own (`OTEL_EXPORTER_OTLP_*`: endpoint, headers, timeout, compression).
 */
export function readTracingSettings(env: Environment): TracingSettings {
  if (valueOf(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') {
    return { isEnabled: false, reason: 'OTEL_SDK_DISABLED is true' };
  }
  const exporters = listOf(env, 'OTEL_TRACES_EXPORTER') ?? ['otlp'];
  if (exporters.includes('none'))
    return { isEnabled: false, reason: 'OTEL_TRACES_EXPORTER is none' };
  if (!exporters.includes('otlp')) {
    return { isEnabled: false, reason: 'OTEL_TRACES_EXPORTER lists no otlp exporter' };
  }
  const tracesEndpoint = valueOf(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const baseEndpoint = valueOf(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (tracesEndpoint === undefined && baseEndpoint === undefined) {
    return { isEnabled: false, reason: 'no OTLP endpoint is set' };
  }
  const warnings: string[] = [];
  const unsupported = exporters.filter((name) => name !== 'otlp');
  if (unsupported.length > 0) {
    warnings.push(
      `OTEL_TRACES_EXPORTER: only otlp is supported, ignoring ${unsupported.join(', ')}`,
    );
  }
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const protocol = valueOf(env, name);
    if (protocol !== undefined && protocol !== 'http/json') {
      warnings.push(`${name}: only http/json is supported, not '${protocol}'`);
    }
  }
  return {
    isEnabled: true,
    serviceName: valueOf(env, 'OTEL_SERVICE_NAME'),
    sampler: readSampler(env, warnings),
    samplerRatio: readRatio(env, warnings),
    batch: {
      scheduledDelayMillis: readCount(env, 'OTEL_BSP_SCHEDULE_DELAY', warnings),
      exportTimeoutMillis: readCount(env, 'OTEL_BSP_EXPORT_TIMEOUT', warnings),
      maxQueueSize: readCount(env, 'OTEL_BSP_MAX_QUEUE_SIZE', warnings),
      maxExportBatchSize: readCount(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', warnings),
    },
    endpoint: withoutCredentials(
      tracesEndpoint ?? `${(baseEndpoint ?? '').replace(/\/+$/, '')}/v1/traces`,
    ),
    warnings,
  };
}

/** The process's tracing: a tracer for the request path, and the flush for shutdown. */
export interface Tracing {
  /** Undefined when tracing is off: the gateway then makes no span at all. */
  readonly tracer: Tracer | undefined;
  /** Exports the spans still queued and stops the exporter, waiting at most `timeoutMs`. */
  shutdown(timeoutMs?: number): Promise<void>;
}

/** How long shutdown waits for the last export: it must fit in the shutdown's hard margin. */
const FLUSH_TIMEOUT_MS = 1000;

/** The gateway's `service.name` unless the environment names another, and its tracer's name. */
export const GATEWAY_SERVICE_NAME = 'friend-card-gateway';

/** Options of `startTracing`. */
export interface StartTracingOptions {
  /** Receives the settings decision and the SDK's own warnings and errors (failed exports). */
  readonly logger: Logger;
}

/**
 * Sets tracing up once per process from the `OTEL_*` variables (see `readTracingSettings`):
 * a tracer provider with a batch span processor and the OTLP/HTTP (JSON) exporter. Called by
 * the entry files; nothing is registered globally but the SDK's diagnostic logger, so the
 * tracer reaches the request path only as a dependency.
 */
export function startTracing(env: Environment, options: StartTracingOptions): Tracing {
  const { logger } = options;
  const settings = readTracingSettings(env);
  if (!settings.isEnabled) {
    logger.debug({ reason: settings.reason }, 'tracing off');
    return { tracer: undefined, shutdown: () => Promise.resolve() };
  }
  for (const warning of settings.warnings)
    logger.warn({ detail: warning }, 'tracing setting ignored');
  diag.setLogger(diagnostics(logger), {
    logLevel: DiagLogLevel.WARN,
    suppressOverrideMessage: true,
  });
  // Later merges win: OTEL_SERVICE_NAME over OTEL_RESOURCE_ATTRIBUTES over the default name.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: GATEWAY_SERVICE_NAME }))
    .merge(detectResources({ detectors: [resourceAttributesEnvDetector] }))
    .merge(
      settings.serviceName === undefined
        ? null
        : resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName }),
    );
  const serviceName = resource.attributes[ATTR_SERVICE_NAME];
  const provider = new TracerProvider({
    resource,
    sampler: createSampler(settings.sampler, settings.samplerRatio),
    spanProcessors: [
      new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), ...settings.batch }),
    ],
  });
  logger.info(
    { serviceName, endpoint: settings.endpoint, sampler: settings.sampler },
    'tracing on',
  );
  return {
    tracer: provider.getTracer(GATEWAY_SERVICE_NAME),
    shutdown: (timeoutMs = FLUSH_TIMEOUT_MS) => flush(provider, timeoutMs, logger),
  };
}

async function flush(provider: TracerProvider, timeoutMs: number, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<'overrun'>((resolve) => {
    timer = setTimeout(resolve, timeoutMs, 'overrun');
  });
  const shutdown = provider.shutdown().then(
    () => 'done' as const,
    (error: unknown) => {
      logger.warn({ err: error }, 'tracing shutdown failed');
      return 'done' as const;
    },
  );
  if ((await Promise.race([shutdown, overrun])) === 'overrun') {
    logger.warn({ timeoutMs }, 'tracing flush overran: queued spans dropped');
  }
  clearTimeout(timer);
}

function createSampler(name: SamplerName, ratio: number): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

/** The SDK's diagnostics (a failed export, a dropped span) as log lines, warn and above. */
function diagnostics(logger: Logger): DiagLogger {
  const ignore = () => undefined;
  return {
    error: (message) => {
      logger.warn({ detail: message }, 'tracing error');
    },
    warn: (message) => {
      logger.warn({ detail: message }, 'tracing warning');
    },
    info: ignore,
    debug: ignore,
    verbose: ignore,
  };
}

/** A variable's trimmed value; empty counts as unset (specification). */
function valueOf(env: Environment, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function listOf(env: Environment, name: string): string[] | undefined {
  const items = valueOf(env, name)
    ?.split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  return items && items.length > 0 ? items : undefined;
}

function readSampler(env: Environment, warnings: string[]): SamplerName {
  const value = valueOf(env, 'OTEL_TRACES_SAMPLER');
  if (value === undefined) return 'parentbased_always_on';
  if ((SAMPLERS as readonly string[]).includes(value)) return value as SamplerName;
  warnings.push(`OTEL_TRACES_SAMPLER: unknown sampler '${value}', using parentbased_always_on`);
  return 'parentbased_always_on';
}

function readRatio(env: Environment, warnings: string[]): number {
  const value = valueOf(env, 'OTEL_TRACES_SAMPLER_ARG');
  if (value === undefined) return 1;
  const ratio = Number(value);
  if (Number.isFinite(ratio) && ratio >= 0 && ratio <= 1) return ratio;
  warnings.push(`OTEL_TRACES_SAMPLER_ARG: '${value}' is not a ratio from 0 to 1, using 1`);
  return 1;
}

function readCount(env: Environment, name: string, warnings: string[]): number | undefined {
  const value = valueOf(env, name);
  if (value === undefined) return undefined;
  const count = Number(value);
  if (Number.isFinite(count) && count >= 0) return count;
  warnings.push(`${name}: '${value}' is not a non-negative number, using the default`);
  return undefined;
}

function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.origin + parsed.pathname;
  } catch {
    return '(not a URL)';
  }
}
