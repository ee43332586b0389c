// ESLint (flat config): @eslint/js's and typescript-eslint's recommended rules, the TypeScript
// sources with type information. `npm run lint` runs it, then `prettier --check`; layout is
// Prettier's alone (.prettierrc.json), so no layout rules are turned on here.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['**/dist/', '**/node_modules/', '.node/', 'coverage/', '.herald/', 'bench/tmp/'],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      // Every TypeScript file is in tsconfig.json, the one `npm run typecheck` checks: one program
      // for all of them.
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // As tsc's noUnusedLocals and noUnusedParameters read it: a parameter a signature requires
      // but the body does not use is named with a leading underscore, and `{ a: _a, ...rest }`
      // is how a key is left out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // The browser scripts, the build script and this file are JavaScript outside tsconfig.json.
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    // Node: the services, the CLI, the tests, the bench and the scripts.
    files: ['**/*.ts', '**/*.mjs', 'cli/bin/*.js', 'eslint.config.js'],
    languageOptions: { globals: globals.node },
  },
  {
    // The pages the publisher serves load these as classic scripts in the browser.
    files: ['services/publisher/src/dashboard/*.js', 'services/publisher/src/demo/app.js'],
    languageOptions: { globals: globals.browser, sourceType: 'script' },
  },
  {
    // The push demo's service worker.
    files: ['services/publisher/src/demo/sw.js'],
    languageOptions: { globals: globals.serviceworker, sourceType: 'script' },
  },
);
