import { defineConfig } from 'vitest/config';

/**
 * `npm run e2e`: the scenarios under test/e2e/ against a real kube-apiserver (../shared/rig), one file per scenario.
 * Not part of `npm test`. The global setup starts the API server and `serve` once; files run one after another, since
 * they share that one cluster and the machine is small.
 */
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    fileParallelism: false,
    pool: 'forks',
    // A real API server on a busy machine: its answers, and the webhook's cache catching up, take seconds.
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
