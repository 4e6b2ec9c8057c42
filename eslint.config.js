// `make lint`: the front end, the scripts and the browser tests. www/ runs in browsers (the page,
// its workers), scripts/ and tests/e2e/ in Node (tests/e2e's page.evaluate callbacks in the page).
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['pkg/**', 'dist/**', 'node_modules/**', 'target/**', 'test-results/**', 'www/assets.js'] },
  js.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2024, sourceType: 'module' },
    rules: {
      'no-unused-vars': ['error', { args: 'after-used', argsIgnorePattern: '^_', caughtErrors: 'none' }],
      eqeqeq: ['error', 'smart'],
      'prefer-const': 'error',
      'no-var': 'error',
    },
  },
  { files: ['www/**/*.js', 'tests/e2e/**/*.js'], languageOptions: { globals: { ...globals.browser, ...globals.worker } } },
  { files: ['scripts/**/*.mjs', 'tests/**/*.mjs', 'eslint.config.js'], languageOptions: { globals: { ...globals.node, ...globals.browser } } },
];
