import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import type { ServiceFaults } from '../../src/simulator/faults.js';
import type { Population } from '../../src/simulator/population.js';
import { createSimulatorApp } from '../../src/simulator/simulator-app.js';
import type { Simulator, SimulatorAppOptions } from '../../src/simulator/simulator-app.js';
import { loadSimulatorConfig } from '../../src/simulator/simulator-config.js';

/** One service's fault settings with no fault at all: the start settings of `config/simulator.json`. */
export const QUIET_FAULTS: ServiceFaults = Object.freeze({
  latencyMs: 0,
  jitterMs: 0,
  errorRate: 0,
  errorStatus: [500, 503],
  hangRate: 0,
  resetRate: 0,
  throttleRate: 0,
  retryAfterSeconds: 1,
  malformedRate: 0,
});

/** A simulator listening on a loopback port. */
export interface RunningSimulator {
  /** Base URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly simulator: Simulator;
  readonly population: Population;
}

/** Starts a simulator from `env` and `options` (e.g. a clock) on 127.0.0.1:0; closed after `t`. */
export async function startSimulator(
  t: TestContext,
  env: Record<string, string> = {},
  options: SimulatorAppOptions = {},
): Promise<RunningSimulator> {
  const simulator = createSimulatorApp(loadSimulatorConfig(env), options);
  const server = createServer(simulator.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    simulator.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, simulator, population: simulator.population };
}

/** Like `startSimulator`, with rate limiting off unless `env` sets `SIM_RATE_LIMIT`. */
export function startUnlimitedSimulator(
  t: TestContext,
  env: Record<string, string> = {},
): Promise<RunningSimulator> {
  return startSimulator(t, { SIM_RATE_LIMIT: 'false', ...env });
}
