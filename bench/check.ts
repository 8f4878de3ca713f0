/**
 * `npm run bench` (after run.js): `check` of one file holding the AI Gateway and Envoy Gateway CRDs and a route, as a
 * pre-commit hook runs it: the first run (empty cache) and later runs (the CRDs' parse cached by content digest).
 * Needs ../shared (the upstream CRDs); says so and skips without it. Prints figures, never fails on a timing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HAS_SHARED, ROOT } from './bodies.js';

const CLI = join(ROOT, 'dist/src/cli.js');
const RUNS = 3;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

if (!HAS_SHARED) {
  process.stdout.write('6. check with the CRDs: not run (../shared/fixtures/crds is not beside the project)\n');
} else {
  const dir = mkdtempSync(join(tmpdir(), 'aigw-bench-check-'));
  const crdDirs = ['ai-gateway', 'envoy-gateway'].map((d) => join(ROOT, '..', 'shared/fixtures/crds', d));
  const crds = crdDirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.yaml')).map((f) => readFileSync(join(d, f), 'utf8')));
  const route = readFileSync(join(ROOT, 'test/fixtures/check/project/routes.yaml'), 'utf8');
  const file = join(dir, 'crds-and-route.yaml');
  writeFileSync(file, [...crds, route].join('\n---\n'));
  const cacheHome = join(dir, 'cache');
  const run = () => {
    const started = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [CLI, 'check', '--offline', '-f', file], { encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: cacheHome, KUBECONFIG: '' } });
    if (r.status !== 1) throw new Error(`check exited ${r.status}: ${r.stderr}`);
    return Number(process.hrtime.bigint() - started) / 1e9;
  };
  const cold = run();
  const warm = Array.from({ length: RUNS }, run);
  const uncached = Array.from({ length: RUNS }, () => {
    const started = process.hrtime.bigint();
    spawnSync(process.execPath, [CLI, 'check', '--offline', '-f', file], { encoding: 'utf8', env: { ...process.env, AIGW_ADMISSION_CACHE: 'off', KUBECONFIG: '' } });
    return Number(process.hrtime.bigint() - started) / 1e9;
  });
  const mb = (readFileSync(file).length / 1024 / 1024).toFixed(1);
  process.stdout.write(
    [
      `6. check --offline -f one file (${mb} MB: ${crds.length} CRDs and a route), wall time of the process, s (target < 1 s with the cache):`,
      `   first run (fills the cache)   ${cold.toFixed(2)}`,
      `   cached, median of ${RUNS}         ${median(warm).toFixed(2)}`,
      `   cache off, median of ${RUNS}      ${median(uncached).toFixed(2)}`,
      '',
    ].join('\n'),
  );
}
