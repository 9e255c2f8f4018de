import cluster from 'node:cluster';
import { constants } from 'node:os';
import { isStopMessage, runPrimary, startFailedMessage } from './cluster-primary.js';
import { ConfigError, loadConfig, nonDefaultSettings, settingWarnings } from './config.js';
import type { Config } from './config.js';
import { createLogger } from './http/request-logging.js';
import { startTracing } from './tracing/tracing.js';
import { ListenError, readVersion, startGateway } from './start-gateway.js';
import type { RunningGateway } from './start-gateway.js';

/** How long past delay + grace a shutdown may take before the process exits regardless. */
const HARD_EXIT_MARGIN_MS = 2000;

/**
 * A closed stdout or stderr (`node dist/server.js | head -1`) must not crash or hold the
 * process: lines written there are lost, nothing else. Other stream errors still throw.
 */
function ignoreBrokenPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
}

/** Ends start-up with one line on stderr naming the cause, and exit code 1. */
function failStart(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/**
 * A worker that cannot listen hands its line to the primary, which prints it once for all
 * workers (they fail alike) and exits 1, and exits 1 itself.
 */
function failWorkerStart(message: string): Promise<never> {
  process.send?.(startFailedMessage(message), () => process.exit(1));
  return new Promise<never>(() => undefined);
}

/** Runs the gateway from the environment until SIGTERM or SIGINT. */
async function main(): Promise<void> {
  ignoreBrokenPipes();
  const version = readVersion();
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    failStart(error.message);
  }
  const logger = createLogger({ level: config.logLevel });
  // The primary warns once for all; its workers, running this file again, do not repeat it.
  if (cluster.isPrimary) {
    for (const { variable, suggestion, message } of settingWarnings(process.env)) {
      logger.warn({ variable, suggestion }, message);
    }
  }
  if (cluster.isPrimary && config.workers > 1) {
    runPrimary(config, logger, {
      version,
      settings: nonDefaultSettings(process.env),
      hardExitMarginMs: HARD_EXIT_MARGIN_MS,
    });
    return;
  }
  const tracing = startTracing(process.env, { logger });
  // Handlers go in before the listener opens: until a handler exists, SIGTERM's default action
  // kills the process, and a supervisor may signal as soon as it sees 'gateway listening'.
  const starting: Promise<RunningGateway> = startGateway(config, logger, {
    version,
    settings: nonDefaultSettings(process.env),
    tracer: tracing.tracer,
  }).catch((error: unknown) => {
    if (error instanceof ListenError) {
      if (cluster.isWorker) return failWorkerStart(error.message);
      failStart(error.message);
    }
    throw error;
  });
  const { shutdownDelayMs, shutdownGraceMs } = config.server;
  let isStopping = false;
  const stop = (signal: NodeJS.Signals, from: 'signal' | 'primary') => {
    // The primary's stop may come after the terminal's own SIGINT reached this worker.
    if (isStopping && from === 'primary') return;
    if (isStopping) {
      // An operator (or an orchestrator's kill) asking twice wants out now: 128 + signal number.
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(128 + constants.signals[signal]);
    }
    isStopping = true;
    logger.info({ signal }, 'signal received');
    // Last resort should something hold the shutdown past its budget; unref'd, so it never
    // keeps an otherwise finished process alive.
    setTimeout(
      () => {
        logger.error({ budgetMs: shutdownDelayMs + shutdownGraceMs }, 'shutdown overran: exiting');
        process.exit(1);
      },
      shutdownDelayMs + shutdownGraceMs + HARD_EXIT_MARGIN_MS,
    ).unref();
    starting
      .then((running) => running.shutdown())
      // The spans of the last requests go out once they are all answered.
      .then(() => tracing.shutdown())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', (signal) => {
    stop(signal, 'signal');
  });
  process.on('SIGINT', (signal) => {
    stop(signal, 'signal');
  });
  if (cluster.isWorker) {
    process.on('message', (message: unknown) => {
      if (isStopMessage(message)) stop(message.signal, 'primary');
    });
  }
  await starting;
}

await main();
