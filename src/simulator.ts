// `node dist/simulator.js`: serve the three fake Xbox Live services alone, on one port.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createSimulatorApp } from './simulator/simulator-app.js';
import { loadSimulatorConfig, type SimulatorConfig } from './simulator/simulator-config.js';

/** How long SIGTERM waits for open connections before cutting them (ms). */
const FORCE_CLOSE_AFTER_MS = 5000;

/** The settings from the environment; a bad one stops start-up with a message naming it. */
function loadConfigOrExit(): SimulatorConfig {
  try {
    return loadSimulatorConfig(process.env);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}

function main(): void {
  const config = loadConfigOrExit();
  const logger = pino({ name: 'xbl-simulator', level: config.logLevel });
  const simulator = createSimulatorApp(config, { logger });
  const server = createServer(simulator.app);

  server.on('error', (error) => {
    logger.fatal({ err: error }, 'simulator cannot listen');
    process.exit(1);
  });
  server.listen({ port: config.listen.port, host: config.listen.host }, () => {
    const { port, address } = server.address() as AddressInfo;
    const example = simulator.population.exampleRequest();
    logger.info(
      {
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
    logger.info({ signal }, 'simulator stopping');
    simulator.close();
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => {
      server.closeAllConnections();
    }, FORCE_CLOSE_AFTER_MS).unref();
  }
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main();
