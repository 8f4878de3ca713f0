import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Only a guard against a hang: no test asserts a timing, and a 2-core machine at load 8+ (or 24, as measured) can take
    // tens of seconds for a test that compiles every CRD schema or starts a process.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The CLI's cache (parsed CRD bundles, compiled CRD validators) stays out of the user's ~/.cache and out of the
    // results: tests of the cache pass their own XDG_CACHE_HOME and turn it on.
    env: { AIGW_ADMISSION_CACHE: 'off' },
  },
});
