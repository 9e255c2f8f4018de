// The layer rules of STYLE.md (conventions 1 and 2) as ESLint `no-restricted-imports` blocks.
//
// In a flat config a later block's options for a rule replace an earlier block's for the same
// file, they do not add up. So every file gets exactly one block: the table below is read top to
// bottom, a file belongs to the first row whose `files` match it, and that row's block carries
// every pattern that applies to the file. The rule is ESLint's own `no-restricted-imports`, which
// reads `import type` and honours `allowTypeImports` per pattern (typescript-eslint deprecated its
// extension of the rule in favour of it).
import { builtinModules } from 'node:module';

/**
 * The parts of src/ that an import can reach, by the name used in this table: a folder ends in
 * `/`, a file is named by its `.ts` source and imported as `.js` (NodeNext).
 */
const MODULES = [
  'server.ts',
  'start-gateway.ts',
  'start-local.ts',
  'cluster-primary.ts',
  'app.ts',
  'openapi.ts',
  'http/',
  'routes/',
  'friend-cards/',
  'upstreams/',
  'profile-cache/',
  'metrics/',
  'tracing/',
  'redis/',
  'call-context.ts',
  'xbl-vocabulary.ts',
  'errors.ts',
  'config.ts',
  'settings.ts',
  'simulator.ts',
  'simulator/',
];

const SIMULATOR = ['simulator.ts', 'simulator/'];
const GATEWAY = MODULES.filter((name) => !SIMULATOR.includes(name));
const ENTRY_FILES = [
  'server.ts',
  'start-gateway.ts',
  'start-local.ts',
  'cluster-primary.ts',
  'simulator.ts',
];
/** What every gateway layer may import. */
const SHARED = ['call-context.ts', 'xbl-vocabulary.ts', 'errors.ts'];

const EXPRESS = {
  group: ['express', 'helmet', 'pino-http', 'supertest'],
  message: 'Only the HTTP edge (app.ts, http/, routes/) knows about Express.',
};

const METRICS_LIBRARY = {
  group: ['prom-client'],
  message: 'Only metrics/ knows the metrics library; the other layers report to plain observers.',
};

const NODE_BUILTINS = [...new Set(builtinModules.map((name) => name.replace(/^node:/, '')))];

const IO_PACKAGES = {
  regex: `^(?:node:|(?:undici|pino|lru-cache|${NODE_BUILTINS.map(escapeRegExp).join('|')})(?:/|$))`,
  message: 'mergeCards is pure: no undici, node:*, pino, lru-cache or other I/O.',
};

const CONFIG_TYPES =
  'Below app.ts, settings arrive as values in deps; loadConfig is for entry files.';

const SIBLING_CLIENT = {
  // `./profile-client.js`, or the same file reached through `../upstreams/`.
  regex: String.raw`^(?:\./|(?:\.\./)+upstreams/)[^/]+-client\.js$`,
  message:
    'No upstream client imports a sibling client; shared plumbing belongs in upstream-http.ts.',
};

const UPSTREAMS = {
  name: 'upstreams/',
  files: ['src/upstreams/**'],
  module: 'upstreams/',
  // The shared throttle gate is a policy over the Redis connection.
  mayImport: [...SHARED, 'redis/'],
  typesFrom: ['config.ts'],
  packages: [EXPRESS],
  why: 'upstreams/ is the bottom layer: it knows no cache, use case or HTTP edge.',
};

/**
 * One row per part of src/. `module` is the part its files belong to (they may import it, e.g.
 * `../upstreams/x.js` from upstreams/), `mayImport` the other parts whose code they may use,
 * `typesFrom` the parts they may take types from but not code (`typesWhy` says why), `packages`
 * and `patterns` extra restrictions. Anything else in MODULES is forbidden to them.
 */
const LAYERS = [
  {
    name: 'start-local.ts',
    files: ['src/start-local.ts'],
    module: 'start-local.ts',
    mayImport: MODULES,
    why: 'It is the one entry file that wires the simulator and the gateway together.',
  },
  {
    name: 'A gateway entry file',
    files: ['src/server.ts', 'src/start-gateway.ts'],
    mayImport: GATEWAY,
    why: 'Only start-local.ts starts the simulator beside the gateway.',
  },
  {
    name: 'cluster-primary.ts',
    files: ['src/cluster-primary.ts'],
    module: 'cluster-primary.ts',
    mayImport: [],
    typesFrom: ['config.ts'],
    typesWhy: 'server.ts loads the config and hands it over.',
    why: 'The primary forks, watches and stops workers; the gateway itself runs in them.',
  },
  {
    name: 'The simulator',
    files: ['src/simulator.ts', 'src/simulator/**'],
    module: 'simulator/',
    mayImport: ['settings.ts'],
    why: 'It encodes UPSTREAMS.md on its own, so a schema bug cannot hide on both sides.',
  },
  {
    name: 'app.ts',
    files: ['src/app.ts'],
    module: 'app.ts',
    mayImport: GATEWAY.filter((name) => !ENTRY_FILES.includes(name)),
    why: 'Only entry files import an entry file, and only start-local.ts brings in the simulator.',
  },
  {
    name: 'openapi.ts',
    files: ['src/openapi.ts'],
    module: 'openapi.ts',
    mayImport: ['routes/', 'http/', 'friend-cards/', ...SHARED],
    typesFrom: ['config.ts'],
    why: 'It describes the HTTP edge from the schemas the edge and the use case check with; only app.ts imports it.',
  },
  {
    name: 'http/',
    files: ['src/http/**'],
    module: 'http/',
    // The rate limit counts in Redis when there is one.
    mayImport: [...SHARED, 'redis/'],
    typesFrom: ['config.ts'],
    why: 'http/ is edge middleware for app.ts and routes/ and knows nothing below them.',
  },
  {
    name: 'routes/',
    files: ['src/routes/**'],
    module: 'routes/',
    mayImport: ['http/', 'friend-cards/', ...SHARED],
    typesFrom: ['config.ts'],
    why: 'A route talks to the use case only, never to upstreams/ or profile-cache/, not even for types.',
  },
  {
    name: 'merge-cards.ts',
    files: ['src/friend-cards/merge-cards.ts'],
    module: 'friend-cards/',
    mayImport: SHARED,
    typesFrom: ['upstreams/', 'profile-cache/', 'config.ts'],
    typesWhy: 'mergeCards is pure: it may use their types, not their code.',
    packages: [EXPRESS, IO_PACKAGES],
    why: 'mergeCards is pure and knows no HTTP edge.',
  },
  {
    name: 'friend-cards/',
    files: ['src/friend-cards/**'],
    module: 'friend-cards/',
    mayImport: ['upstreams/', 'profile-cache/', ...SHARED],
    typesFrom: ['config.ts'],
    packages: [EXPRESS],
    why: 'The use case sits below the HTTP edge and above upstreams/ and profile-cache/.',
  },
  {
    ...UPSTREAMS,
    name: 'An upstream client',
    files: ['src/upstreams/*-client.ts'],
    mayImport: SHARED,
    patterns: [SIBLING_CLIENT],
    why: 'A client builds, sends and validates; what wraps the call (Redis gates too) is a policy.',
  },
  UPSTREAMS,
  {
    name: 'profile-cache/',
    files: ['src/profile-cache/**'],
    module: 'profile-cache/',
    mayImport: ['upstreams/', ...SHARED, 'redis/'],
    typesFrom: ['config.ts'],
    packages: [EXPRESS],
    why: 'profile-cache/ uses the profile client and knows no use case or HTTP edge.',
  },
  {
    name: 'metrics/',
    files: ['src/metrics/**'],
    module: 'metrics/',
    mayImport: ['http/', 'upstreams/', 'profile-cache/', ...SHARED],
    typesFrom: ['config.ts'],
    packages: [EXPRESS],
    why: 'metrics/ keeps the metrics library behind the plain observers of the layers it measures; only app.ts wires it in.',
  },
  {
    name: 'tracing/',
    files: ['src/tracing/**'],
    module: 'tracing/',
    mayImport: SHARED,
    typesFrom: ['config.ts'],
    why: 'Entry files set telemetry up once; the request path gets only what it makes, e.g. a Tracer.',
  },
  {
    name: 'redis/',
    files: ['src/redis/**'],
    module: 'redis/',
    mayImport: [],
    packages: [EXPRESS],
    why: 'It is the one Redis connection and key scheme that the layers above share, so it knows none of them.',
  },
  {
    name: 'call-context.ts',
    files: ['src/call-context.ts'],
    module: 'call-context.ts',
    mayImport: ['xbl-vocabulary.ts', 'errors.ts'],
    typesFrom: ['config.ts'],
    why: 'Every layer imports the call context, so it imports none of them.',
  },
  {
    name: 'A shared module (xbl-vocabulary.ts, errors.ts)',
    files: ['src/xbl-vocabulary.ts', 'src/errors.ts'],
    mayImport: SHARED,
    typesFrom: ['config.ts'],
    why: 'Every gateway layer imports them, so they import none of the layers.',
  },
  {
    name: 'config.ts',
    files: ['src/config.ts'],
    module: 'config.ts',
    mayImport: [...SHARED, 'settings.ts'],
    why: 'Every gateway layer imports its types, so it imports none of the layers.',
  },
  {
    name: 'settings.ts',
    files: ['src/settings.ts'],
    module: 'settings.ts',
    mayImport: [],
    why: 'It is shared by config.ts and the simulator, so it imports neither side.',
  },
  {
    name: 'A new part of src/',
    files: ['src/**'],
    mayImport: GATEWAY.filter((name) => !ENTRY_FILES.includes(name) && name !== 'app.ts'),
    typesFrom: ['config.ts'],
    why: 'Give it its own row in eslint.layers.js; until then it sits below app.ts.',
  },
];

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, String.raw`\$&`);
}

/**
 * A regex for specifiers that reach any of `names`: `../upstreams/x.js` from a folder,
 * `./upstreams/x.js` from a top-level file, `../app.js`, `./app.js`, and deeper `../../` forms.
 * It reads the specifier, not the resolved path, so no folder in src/ reuses a name of MODULES.
 */
function specifierRegex(names) {
  const targets = names.map((name) =>
    name.endsWith('/') ? escapeRegExp(name) : `${escapeRegExp(name.replace(/\.ts$/, '.js'))}$`,
  );
  return String.raw`^(?:\.\.?/)+(?:${targets.join('|')})`;
}

/** `a`, `a and b`, `a, b and c`. */
function listOf(names) {
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)}` : names.join('');
}

/** The one `no-restricted-imports` block of a row: everything the row does not allow. */
function layerBlock({
  name,
  files,
  module,
  mayImport,
  typesFrom = [],
  typesWhy = CONFIG_TYPES,
  packages = [],
  patterns = [],
  why,
}) {
  const allowed = new Set([module, ...mayImport, ...typesFrom]);
  const forbidden = MODULES.filter((target) => !allowed.has(target));
  const code = module?.endsWith('/') ? ['its own folder', ...mayImport] : mayImport;
  const restrictions = [...packages, ...patterns];
  if (module !== 'metrics/') restrictions.push(METRICS_LIBRARY);
  if (forbidden.length > 0) {
    const types = typesFrom.length > 0 ? `, and only types from ${listOf(typesFrom)}` : '';
    const imports =
      code.length > 0 ? `imports from src/ only ${listOf(code)}` : 'imports nothing from src/';
    restrictions.push({
      regex: specifierRegex(forbidden),
      message: `${name} ${imports}${types}. ${why}`,
    });
  }
  if (typesFrom.length > 0) {
    restrictions.push({
      regex: specifierRegex(typesFrom),
      allowTypeImports: true,
      message: `${name} imports only types from ${listOf(typesFrom)}. ${typesWhy}`,
    });
  }
  return {
    name: `layers/${name}`,
    files,
    rules: {
      'no-restricted-imports':
        restrictions.length > 0 ? ['error', { patterns: restrictions }] : 'off',
    },
  };
}

/** The blocks of the table, each ignoring the files of the rows above it. */
export const layerRules = LAYERS.map((row, index) => ({
  ...layerBlock(row),
  ignores: LAYERS.slice(0, index).flatMap((earlier) => earlier.files),
}));
