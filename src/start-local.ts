// `npm start`: the built-in simulator and the gateway together, for a first curl.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig, nonDefaultSettings, settingWarnings } from './config.js';
import { createLogger } from './http/request-logging.js';
import { startTracing } from './tracing/tracing.js';
import { ListenError, readVersion, startGateway } from './start-gateway.js';
import { createSimulatorApp } from './simulator/simulator-app.js';
import { loadSimulatorConfig, simulatorSettingWarnings } from './simulator/simulator-config.js';

/** Ends start-up with one line on stderr naming the cause, and exit code 1. */
function failStart(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** Starts the simulator on a free loopback port, then the gateway pointed at it. */
async function main(): Promise<void> {
  const version = readVersion();
  let simulatorConfig;
  let config;
  try {
    // The simulator takes its SIM_* settings from the environment, but never the gateway's port.
    simulatorConfig = loadSimulatorConfig({ ...process.env, PORT: '0', HOST: '127.0.0.1' });
  } catch (error) {
    failStart(error instanceof Error ? error.message : String(error));
  }

  const simulator = createSimulatorApp(simulatorConfig);
  const simulatorServer = createServer(simulator.app);
  await new Promise<void>((resolve) => simulatorServer.listen(0, '127.0.0.1', resolve));
  const simulatorUrl = `http://127.0.0.1:${(simulatorServer.address() as AddressInfo).port}`;

  const env = {
    ...process.env,
    XBL_SOCIAL_URL: simulatorUrl,
    XBL_PROFILE_URL: simulatorUrl,
    XBL_PRIVACY_URL: simulatorUrl,
  };
  try {
    config = loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    failStart(error.message);
  }
  const logger = createLogger({ level: config.logLevel });
  const tracing = startTracing(process.env, { logger });
  const simulatorWarnings = simulatorSettingWarnings(process.env).filter(({ variable }) =>
    variable.startsWith('SIM_'),
  );
  for (const { variable, suggestion, message } of [...settingWarnings(env), ...simulatorWarnings]) {
    logger.warn({ variable, suggestion }, message);
  }
  // Handlers go in before the listener opens, as in server.ts: a supervisor (or a test) may
  // signal as soon as it sees 'gateway listening', before the curl line below is written.
  const starting = startGateway(config, logger, {
    version,
    settings: nonDefaultSettings(env),
    tracer: tracing.tracer,
  }).catch((error: unknown) => {
    if (!(error instanceof ListenError)) throw error;
    return failStart(error.message);
  });
  const stop = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'signal received');
    simulator.close();
    simulatorServer.closeAllConnections();
    simulatorServer.close();
    starting
      .then((running) => running.shutdown())
      .then(() => tracing.shutdown())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const gateway = await starting;

  const example = simulator.population.exampleRequest();
  const host = ['0.0.0.0', '::'].includes(config.listen.host) ? '127.0.0.1' : config.listen.host;
  const query = `xuids=${example.xuids.join(',')}&permissions=ViewTargetProfile,CommunicateUsingText`;
  const rateLimit = simulatorConfig.rateLimit.isEnabled
    ? `on, ${10 * simulatorConfig.rateLimit.scale} calls per 15 s per player and service (SIM_RATE_LIMIT=false turns it off)`
    : 'off';
  process.stdout.write(
    [
      '',
      `Friend-card gateway on http://${host}:${gateway.port}, simulator on ${simulatorUrl}`,
      `Simulator rate limiting: ${rateLimit}`,
      'Try:',
      `  curl -s -H 'Authorization: ${example.authorization}' 'http://${host}:${gateway.port}/friends-with-profiles?${query}'`,
      '',
    ].join('\n') + '\n',
  );
}

await main();
