/**
 * `npm run bench` (after run.js): `check` of one file holding the AI Gateway and Envoy Gateway CRDs and the objects a
 * pre-commit hook on a gateway repository checks against them (upstream's token rate-limit example: a GatewayClass, a
 * Gateway, an EnvoyProxy, an AIGatewayRoute, an AIServiceBackend, a Backend, a BackendTrafficPolicy, a Deployment and
 * a Service; and the project's route with findings). EnvoyProxy's is the biggest schema of all (1.3 MB of CRD), so the
 * validators of the big kinds are compiled, not only the small ones.
 *
 * Runs: the first (empty cache: parses the CRDs, compiles the schemas of the kinds present), cached (the CRDs' parse
 * and the compiled validators from $XDG_CACHE_HOME/aigw-admission), and with AIGW_ADMISSION_CACHE=off. Needs ../shared
 * (the upstream CRDs and example); says so and skips without it. Prints figures, never fails on a timing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { HAS_SHARED, ROOT } from './bodies.js';

const CLI = join(ROOT, 'dist/src/cli.js');
const RUNS = 5;
const TARGET_SECONDS = 1;

/**
 * Makes the child print its own CPU time (user + system) at exit: on a shared machine the wall time also measures the
 * other processes, the CPU time much less so.
 */
const REPORT_CPU = `data:text/javascript,${encodeURIComponent(
  'process.on("exit", () => { const u = process.cpuUsage(); process.stderr.write("\\ncpu-us " + (u.user + u.system) + "\\n"); });',
)}`;

interface Timing {
  wall: number;
  cpu: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const SHARED_FIXTURES = join(ROOT, '..', 'shared/fixtures');

if (!HAS_SHARED) {
  process.stdout.write('9. check with the CRDs: not run (../shared/fixtures/crds is not beside the project)\n');
} else {
  const dir = mkdtempSync(join(tmpdir(), 'aigw-bench-check-'));
  const crdDirs = ['ai-gateway', 'envoy-gateway'].map((d) => join(SHARED_FIXTURES, 'crds', d));
  const crds = crdDirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.yaml')).map((f) => readFileSync(join(d, f), 'utf8')));
  const example = readFileSync(join(SHARED_FIXTURES, 'examples/ai-gateway/examples__token_ratelimit__token_ratelimit.yaml'), 'utf8');
  const route = readFileSync(join(ROOT, 'test/fixtures/check/project/routes.yaml'), 'utf8');
  const objects = [example, route].join('\n---\n');
  const kinds = parseAllDocuments(objects)
    .map((d) => d.toJS() as { kind?: string; items?: { kind?: string }[] } | null)
    .flatMap((o) => (o?.kind === 'List' ? (o.items ?? []) : o ? [o] : []))
    .map((o) => String(o.kind));
  const file = join(dir, 'crds-and-objects.yaml');
  writeFileSync(file, [...crds, objects].join('\n---\n'));
  const cacheHome = join(dir, 'cache');
  const run = (env: NodeJS.ProcessEnv): Timing => {
    const started = process.hrtime.bigint();
    const r = spawnSync(process.execPath, ['--import', REPORT_CPU, CLI, 'check', '--offline', '-f', file], {
      encoding: 'utf8',
      env: { ...process.env, KUBECONFIG: '', ...env },
    });
    const wall = Number(process.hrtime.bigint() - started) / 1e9;
    // The project's route has deny findings: exit 1 is the answer; anything else is a broken run, not a figure.
    if (r.status !== 1) throw new Error(`check exited ${r.status}: ${r.stderr}`);
    const cpu = /^cpu-us (\d+)$/m.exec(r.stderr);
    return { wall, cpu: cpu ? Number(cpu[1]) / 1e6 : NaN };
  };
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  const mb = (readFileSync(file).length / 1024 / 1024).toFixed(1);
  let first: Timing, cached: Timing[], off: Timing[];
  try {
    first = run({ XDG_CACHE_HOME: cacheHome });
    cached = Array.from({ length: RUNS }, () => run({ XDG_CACHE_HOME: cacheHome }));
    off = Array.from({ length: 3 }, () => run({ AIGW_ADMISSION_CACHE: 'off' }));
  } finally {
    // The file and its cache are about 20 MB: nothing is left in the temp dir.
    rmSync(dir, { recursive: true, force: true });
  }
  const row = (what: string, runs: Timing[], target = '') =>
    `   ${what.padEnd(48)}${median(runs.map((r) => r.wall)).toFixed(2).padStart(6)}${median(runs.map((r) => r.cpu)).toFixed(2).padStart(8)}   ${target}`;
  const warm = median(cached.map((r) => r.wall));
  process.stdout.write(
    [
      `9. check --offline -f one file (${mb} MB: ${crds.length} CRDs; ${kinds.length} objects: ${[...new Set(kinds)].join(', ')}),`,
      `   seconds of the process (median), wall and CPU (user + system), load average ${load} (1, 5, 15 min) at the start:`,
      `   ${'run'.padEnd(48)}${'wall'.padStart(6)}${'CPU'.padStart(8)}   target < ${TARGET_SECONDS} s (wall)`,
      row('first (fills the cache)', [first]),
      row(`cached, ${RUNS} runs`, cached, warm < TARGET_SECONDS ? 'met' : 'NOT MET'),
      row('cache off (AIGW_ADMISSION_CACHE=off), 3 runs', off),
      `   cached runs take ${(median(cached.map((r) => r.cpu)) / median(off.map((r) => r.cpu))).toFixed(2)}× the CPU of runs with the cache off`,
      '',
    ].join('\n'),
  );
}
