import { constants } from 'node:os';
import { ConfigError, loadConfig } from './config.js';
import type { Config } from './config.js';
import { createLogger } from './http/request-logging.js';
import { startTracing } from './tracing/tracing.js';
import { startGateway } from './start-gateway.js';

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

/** Runs the gateway from the environment until SIGTERM or SIGINT. */
async function main(): Promise<void> {
  ignoreBrokenPipes();
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  const logger = createLogger({ level: config.logLevel });
  const tracing = startTracing(process.env, { logger });
  // Handlers go in before the listener opens: until a handler exists, SIGTERM's default action
  // kills the process, and a supervisor may signal as soon as it sees 'gateway listening'.
  const starting = startGateway(config, logger, { tracer: tracing.tracer });
  const { shutdownDelayMs, shutdownGraceMs } = config.server;
  let isStopping = false;
  const stop = (signal: NodeJS.Signals) => {
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
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  await starting;
}

await main();
