// ESLint flat config: typescript-eslint strict type-checked rules plus the layer boundaries of STYLE.md.
import js from '@eslint/js';
import nodePlugin from 'eslint-plugin-n';
import tseslint from 'typescript-eslint';

/** Import patterns that a folder must not use, so dependencies point one way. */
function banImports(files, patterns) {
  return {
    files,
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns }],
    },
  };
}

const expressPackages = {
  group: ['express', 'helmet', 'pino-http', 'supertest'],
  message: 'Only the HTTP edge (app.ts, http/, routes/) knows about Express.',
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { n: nodePlugin },
    rules: {
      'n/prefer-node-protocol': 'error',
      'n/no-process-exit': 'error',
      'n/no-process-env': 'error',
      'no-console': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
    },
  },
  {
    files: ['src/**'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'fetch', message: 'Upstream I/O goes through the clients in src/upstreams/.' },
      ],
    },
  },
  {
    files: ['eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  banImports(
    ['src/friend-cards/**', 'src/upstreams/**', 'src/profile-cache/**'],
    [
      expressPackages,
      {
        group: ['**/routes/*', '**/http/*', '**/app.js'],
        message: 'Lower layers never import the HTTP edge.',
      },
    ],
  ),
  banImports(
    ['src/friend-cards/merge-cards.ts'],
    [
      expressPackages,
      { group: ['undici', 'node:*', 'pino', 'lru-cache'], message: 'mergeCards is pure: no I/O.' },
      {
        group: ['**/upstreams/*', '**/profile-cache/*'],
        allowTypeImports: true,
        message: 'mergeCards is pure: it may use their types, not their code.',
      },
    ],
  ),
  banImports(
    ['src/upstreams/social-client.ts'],
    [
      {
        group: ['./profile-client.js', './privacy-client.js'],
        message: 'No upstream client imports a sibling.',
      },
    ],
  ),
  banImports(
    ['src/upstreams/profile-client.ts'],
    [
      {
        group: ['./social-client.js', './privacy-client.js'],
        message: 'No upstream client imports a sibling.',
      },
    ],
  ),
  banImports(
    ['src/upstreams/privacy-client.ts'],
    [
      {
        group: ['./social-client.js', './profile-client.js'],
        message: 'No upstream client imports a sibling.',
      },
    ],
  ),
  banImports(
    ['src/simulator/**'],
    [
      {
        group: [
          '**/routes/*',
          '**/friend-cards/*',
          '**/upstreams/*',
          '**/profile-cache/*',
          '**/http/*',
          '**/app.js',
          '**/config.js',
        ],
        message:
          'The simulator encodes UPSTREAMS.md on its own; it shares no code with the gateway.',
      },
    ],
  ),
  {
    files: ['src/server.ts', 'src/simulator.ts', 'src/start-local.ts'],
    rules: { 'n/no-process-env': 'off', 'n/no-process-exit': 'off', 'no-console': 'off' },
  },
  {
    files: ['test/**'],
    rules: {
      'n/no-process-env': 'off',
      'no-console': 'off',
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
