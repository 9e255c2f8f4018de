// `node dist/simulator.js`: serve the three fake Xbox Live services alone, on one port.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { listenFailureMessage } from './settings.js';
import { createSimulatorApp } from './simulator/simulator-app.js';
import {
  loadSimulatorConfig,
  simulatorSettingWarnings,
  type SimulatorConfig,
} from './simulator/simulator-config.js';

/** How long SIGTERM waits for open connections before cutting them (ms). */
const FORCE_CLOSE_AFTER_MS = 5000;

/** The `name` of every simulator log line. */
const SIMULATOR_LOG_NAME = 'xbl-simulator';

/** Ends start-up with one line on stderr naming the cause, and exit code 1. */
function failStart(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** The settings from the environment; a bad one stops start-up with a message naming it. */
function loadConfigOrExit(): SimulatorConfig {
  try {
    return loadSimulatorConfig(process.env);
  } catch (error) {
    failStart(error instanceof Error ? error.message : String(error));
  }
}

/**
 * The simulator's logger: lines in the gateway's format (ISO time, level names, a `name`),
 * written synchronously for the reason `createLogger` gives.
 */
function createSimulatorLogger(level: SimulatorConfig['logLevel']): Logger {
  return pino(
    {
      name: SIMULATOR_LOG_NAME,
      level,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: 1, sync: true }),
  );
}

function main(): void {
  const config = loadConfigOrExit();
  const logger = createSimulatorLogger(config.logLevel);
  for (const { variable, suggestion, message } of simulatorSettingWarnings(process.env)) {
    logger.warn({ variable, suggestion }, message);
  }
  const simulator = createSimulatorApp(config, { logger });
  const server = createServer(simulator.app);

  server.once('error', (error) => {
    const message = listenFailureMessage(error, config.listen);
    if (message === undefined) throw error;
    failStart(message);
  });
  server.listen({ port: config.listen.port, host: config.listen.host }, () => {
    const { port, address } = server.address() as AddressInfo;
    const example = simulator.population.exampleRequest();
    logger.info(
      {
        node: process.version,
        port,
        host: address,
        populationSize: config.population.size,
        rateLimit: config.rateLimit.isEnabled ? 'on' : 'off',
        rateLimitScale: config.rateLimit.scale,
        exampleAuthorization: example.authorization,
      },
      'simulator listening',
    );
  });

  function stop(signal: NodeJS.Signals): void {
    logger.info({ signal }, 'signal received');
    simulator.close();
    server.close(() => {
      logger.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => {
      server.closeAllConnections();
    }, FORCE_CLOSE_AFTER_MS).unref();
  }
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main();
