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
      // Off: here `async` without `await` is how a function meets a contract that returns a
      // promise: a driver's close() and a dry run's send(), Fastify's hooks (a hook that is not
      // async gets a `done` callback, and Fastify waits for it) and handlers. Dropping `async`
      // would turn a throw into a synchronous exception instead of a rejection.
      '@typescript-eslint/require-await': 'off',
      // `Promise.all(xs.map((x) => x.close?.()))`: an optional method gives undefined or a promise,
      // and Promise.all takes both as they are.
      '@typescript-eslint/await-thenable': ['error', { allowMixedPromiseArrays: true }],
      // A worker's migration timer is declared before the signal handler that clears it and
      // assigned once the consumer has started: it cannot be a const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Passing on what a promise rejected with, or what was caught, keeps it as it was; only
      // new rejections must be Errors.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
    },
  },
  {
    // Off in tests, which read answers as `any` on purpose and check them with expect():
    // light-my-request's res.json(), JSON.parse of a CLI's output, and vitest's asymmetric
    // matchers (expect.any(String) is typed any). Typing each answer would only restate what the
    // assertion next to it checks. The services' own code keeps these rules.
    files: ['test/**'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
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
