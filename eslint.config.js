// ESLint flat config: typescript-eslint strict type-checked rules plus the layer boundaries of
// STYLE.md, which eslint.layers.js builds from one table.
import js from '@eslint/js';
import nodePlugin from 'eslint-plugin-n';
import tseslint from 'typescript-eslint';
import { layerRules } from './eslint.layers.js';

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
    files: ['eslint.config.js', 'eslint.layers.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  ...layerRules,
  {
    files: ['src/server.ts', 'src/simulator.ts', 'src/start-local.ts'],
    rules: { 'n/no-process-env': 'off', 'n/no-process-exit': 'off', 'no-console': 'off' },
  },
  {
    // The cluster primary ends the process for its workers; it reads no environment.
    files: ['src/cluster-primary.ts'],
    rules: { 'n/no-process-exit': 'off' },
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
