/**
 * `npm run bench`: the webhook against the physical limit of this machine. Prints one table, writes
 * bench/results/latest.json, exits 1 when any request errored or got a wrong answer (an error is never a fast answer).
 *
 * Flags (or env): --quick, --runs N (BENCH_RUNS), --duration S (BENCH_DURATION), --warmup S (BENCH_WARMUP),
 * --connections N (BENCH_CONNECTIONS), --cpu-prof DIR (profile the serve process).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type { AuditFigures } from './audit.js';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import { ALL_POLICIES } from '../policies/index.js';
import { ConfigHolder } from '../src/config/holder.js';
import { Metrics } from '../src/observe/metrics.js';
import { MemoryWorld } from '../src/world/world.js';
import { parseAdmissionReview } from '../src/review/parse.js';
import { review } from '../src/review/review.js';
import { silentLogger, type ReviewDeps } from '../src/review/deps.js';
import { HAS_SHARED, ROOT, servedMix, singleRoute, type BenchBody } from './bodies.js';
import { startFakeApi, type FakeCounts } from './audit.js';
import { performance } from 'node:perf_hooks';
import type { LoadPlan, LoadResult, PlannedRequest } from './load.js';
import { sizeSeries, type SizeSeries } from './size.js';
import { num, showSpread, spread, table, type Spread } from './stats.js';
import { renderWorstCases, worstCases } from './worst-case.js';
import { DEPLOYED_NODE_OPTIONS } from './deployed.js';
import { procStatus } from './proc.js';

interface Options {
  quick: boolean;
  runs: number;
  /** Rounds of the single body on the three servers (more than `runs`: see `options`). */
  singleRuns: number;
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
  cpuProfDir?: string;
}

function options(argv: string[]): Options {
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const number = (name: string, env: string, fallback: number): number => {
    const raw = flag(name) ?? process.env[env];
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) {
      process.stderr.write(`bench: --${name} / ${env} is "${raw}", expected a positive number\n`);
      process.exit(2);
    }
    return value;
  };
  const quick = argv.includes('--quick');
  const runs = Math.round(number('runs', 'BENCH_RUNS', 3));
  if (runs < 3) {
    process.stderr.write(`bench: --runs ${runs}: every figure is a median of at least 3 runs\n`);
    process.exit(2);
  }
  // The single body's ratio to the bare responder is the figure nearest its target, and this machine's speed swings
  // by a third within minutes: it gets more rounds than the rest (7 at the default 3) so one slow run moves it less.
  const singleRuns = Math.round(number('single-runs', 'BENCH_SINGLE_RUNS', 2 * runs + 1));
  if (singleRuns < 3) {
    process.stderr.write(`bench: --single-runs ${singleRuns}: every figure is a median of at least 3 runs\n`);
    process.exit(2);
  }
  return {
    quick,
    runs,
    singleRuns,
    durationSeconds: number('duration', 'BENCH_DURATION', quick ? 1 : 5),
    warmupSeconds: number('warmup', 'BENCH_WARMUP', quick ? 0.25 : 1),
    connections: Math.round(number('connections', 'BENCH_CONNECTIONS', 10)),
    cpuProfDir: flag('cpu-prof'),
  };
}

const DIST = join(ROOT, 'dist');
/**
 * The webhook ends a keep-alive connection after 1,000 requests (`Connection: close`, which the API server's Go client
 * honours by reconnecting). autocannon ignores that header and would get 503s on the same socket, so every target's
 * clients reconnect after that many requests, TLS handshake included.
 */
const REQUESTS_PER_CONNECTION = 1000;

/** Starts a child and resolves with the first stream line that matches `ready`. */
function startChild(args: string[], cwd: string, ready: RegExp, stream: 'stdout' | 'stderr'): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd,
      env: { ...process.env, NODE_OPTIONS: DEPLOYED_NODE_OPTIONS },
      // The webhook logs one line per review: send it where a container runtime would, a descriptor nobody blocks on.
      stdio: ['ignore', stream === 'stdout' ? 'pipe' : 'ignore', 'pipe'],
    });
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const match = ready.exec(seen);
      if (match) {
        child[stream]!.off('data', onData);
        child[stream]!.resume();
        resolve({ child, match });
      }
    };
    child[stream]!.on('data', onData);
    if (stream === 'stdout') child.stderr!.on('data', (c: Buffer) => (seen += c.toString()));
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code} before it was ready:\n${seen}`)));
  });
}

function runLoad(plan: LoadPlan, dir: string): Promise<LoadResult> {
  const planFile = join(dir, 'plan.json');
  writeFileSync(planFile, JSON.stringify(plan));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(DIST, 'bench', 'load.js'), planFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load generator exited with ${code}`));
      else resolve(JSON.parse(out) as LoadResult);
    });
  });
}

function scrapeRss(url: string, ca: Buffer): Promise<number | undefined> {
  return new Promise((resolve) => {
    https
      .get(`${url}/metrics`, { ca }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          const m = /^process_resident_memory_bytes (\d+)/m.exec(text);
          resolve(m ? Number(m[1]) : undefined);
        });
      })
      .on('error', () => resolve(undefined));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

interface BodyRow {
  type: string;
  endpoint: string;
  count: number;
  bytes: number[];
  allowed: boolean[];
  patchOps: number[];
  fired: Map<string, number>;
}

interface TargetFigures {
  name: string;
  rps: Spread;
  p50: Spread;
  p99: Spread;
  p999: Spread;
  cpuUs: Spread | undefined;
  runs: LoadResult[];
}

const MB = 1024 * 1024;

function targetFigures(name: string, runs: LoadResult[]): TargetFigures {
  return {
    name,
    runs,
    rps: spread(runs.map((r) => r.rps)),
    p50: spread(runs.map((r) => r.latencyMs.p50)),
    p99: spread(runs.map((r) => r.latencyMs.p99)),
    p999: spread(runs.map((r) => r.latencyMs.p999)),
    cpuUs: runs.every((r) => r.serverCpuUsPerRequest !== undefined) ? spread(runs.map((r) => r.serverCpuUsPerRequest!)) : undefined,
  };
}

interface StartupFigures {
  loadAverage: number[];
  /** Standalone, from spawn to listening (ready), creating the CA and serving certificate. */
  firstMs: number;
  /** The same with the certificates already on disk. */
  againMs: number;
}

interface ClusterFigures {
  counts: Required<FakeCounts>;
  loadAverage: number[];
  listeningMs: number;
  /** From spawn to the first 200 from /readyz: every kind listed into a cold cache. */
  readyMs: number;
  rssReadyBytes: number | undefined;
  peakRssBytes: number | undefined;
  runs: LoadResult[];
}

/** GET /readyz until it answers 200; resolves with the time it did. */
async function untilReady(url: string, ca: Buffer): Promise<number> {
  for (;;) {
    const status = await new Promise<number>((resolve) => {
      https.get(`${url}/readyz`, { ca }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', () => resolve(0));
    });
    if (status === 200) return performance.now();
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Section 7: serve in cluster mode, its informer cache filled from a fake API in another process with objects shaped as
 * a real API server returns them (managedFields, last-applied annotation, status): time to ready from a cold cache,
 * RSS once ready, and the single-body review under the same load as in section 1.
 */
async function clusterServe(
  opts: Options,
  work: string,
  tlsDir: string,
  requests: PlannedRequest[],
  check: (r: LoadResult) => void,
  plan: (target: { url: string; pid?: number }, requests: PlannedRequest[]) => LoadPlan,
): Promise<ClusterFigures> {
  const counts: Required<FakeCounts> = { routes: 10_000, backendTrafficPolicies: 10_000, patchPolicies: 2_000, pods: 5_000, served: true };
  const api = await startFakeApi(counts);
  // The fake API is stopped however this ends, also when serve fails to start: it must not outlive the bench.
  try {
    const kubeconfig = join(work, 'kubeconfig.json');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'fake', cluster: { server: `http://127.0.0.1:${api.port}`, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'bench', user: {} }],
        contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'bench' } }],
        'current-context': 'fake',
      }),
    );
    const loadAverage = loadavg().map((l) => Math.round(l * 100) / 100);
    const t = performance.now();
    const args = [join(DIST, 'src', 'cli.js'), 'serve', '--kubeconfig', kubeconfig, '--no-manage-certs', '--listen', '127.0.0.1:0', '--tls-dir', tlsDir, '--shutdown-delay', '0', '--probe-listen', 'off'];
    const served = await startChild(args, work, /listening on (https:\/\/127\.0\.0\.1:\d+)/, 'stderr');
    try {
      const listeningMs = performance.now() - t;
      const url = served.match[1]!;
      const readyMs = (await untilReady(url, readFileSync(join(tlsDir, 'ca.crt')))) - t;
      const rssReadyBytes = procStatus(served.child.pid!, 'VmRSS');
      // The same untimed warm-up the standalone servers get (section 1), so the two p50s compare warm servers.
      process.stderr.write('bench: warming serve in cluster mode up, the single body\n');
      check(await runLoad({ ...plan({ url, pid: served.child.pid }, requests), warmupSeconds: 0, durationSeconds: opts.quick ? 0.5 : 3 }, work));
      const runs: LoadResult[] = [];
      for (let round = 0; round < opts.runs; round++) {
        process.stderr.write(`bench: run ${round + 1}/${opts.runs}, the single body on serve in cluster mode\n`);
        const r = await runLoad(plan({ url, pid: served.child.pid }, requests), work);
        check(r);
        runs.push(r);
      }
      return { counts, loadAverage, listeningMs, readyMs, rssReadyBytes, peakRssBytes: procStatus(served.child.pid!, 'VmHWM'), runs };
    } finally {
      await stop(served.child);
    }
  } finally {
    await api.stop();
  }
}
const kb = (bytes: number) => `${num(bytes / 1024, 3)} KB`;

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), 'aigw-bench-'));
  const holder = new ConfigHolder(ALL_POLICIES, undefined);
  const deps: ReviewDeps = {
    policies: holder.policies,
    world: new MemoryWorld([], { kubernetesMinor: holder.config.kubernetesMinor }),
    now: () => new Date(),
    logger: silentLogger,
    metrics: new Metrics(),
  };
  const machine = {
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`,
    memoryGB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  };

  // The served mix, each body reviewed once in process: the expected answers and the policies that fired.
  const bodies: BenchBody[] = servedMix();
  const rows = new Map<string, BodyRow>();
  const expected: PlannedRequest[] = bodies.map((b) => {
    const { review: out, verdict } = review(parseAdmissionReview(b.text), b.endpoint, deps);
    const key = `${b.type}|${b.endpoint}`;
    const row = rows.get(key) ?? { type: b.type, endpoint: `/${b.endpoint}`, count: 0, bytes: [], allowed: [], patchOps: [], fired: new Map<string, number>() };
    row.count++;
    row.bytes.push(Buffer.byteLength(b.text));
    row.allowed.push(verdict.allowed);
    row.patchOps.push(verdict.patch.length);
    for (const id of verdict.fired) row.fired.set(id, (row.fired.get(id) ?? 0) + 1);
    rows.set(key, row);
    return {
      path: `/${b.endpoint}`,
      body: b.text,
      uid: b.uid,
      allowed: out.response.allowed,
      patched: typeof out.response.patch === 'string',
      warnings: out.response.warnings?.length ?? 0,
    };
  });
  const baselineExpected = expected.map((e) => ({ ...e, allowed: true, patched: null, warnings: null }));
  // The single-body case: one real upstream route, the same body on every request.
  const single = singleRoute();
  const singleText = JSON.stringify(single.review);
  const singleVerdict = review(parseAdmissionReview(singleText), 'validate', deps);
  const singleExpected: PlannedRequest[] = [
    {
      path: '/validate',
      body: singleText,
      uid: single.review.request.uid,
      allowed: singleVerdict.review.response.allowed,
      patched: false,
      warnings: singleVerdict.review.response.warnings?.length ?? 0,
    },
  ];
  const singleBaseline = singleExpected.map((e) => ({ ...e, allowed: true, patched: null, warnings: null }));
  const singleRow: BodyRow = {
    type: single.type,
    endpoint: '/validate',
    count: 1,
    bytes: [Buffer.byteLength(singleText)],
    allowed: [singleVerdict.verdict.allowed],
    patchOps: [0],
    fired: new Map(singleVerdict.verdict.fired.map((id) => [id, 1])),
  };
  const load = () => loadavg().map((l) => Math.round(l * 100) / 100);

  // Section 3 first, while nothing else of ours is running.
  process.stderr.write('bench: section 3, cost against object size (in process)\n');
  const sizesLoad = load();
  const sizes: SizeSeries[] = sizeSeries(deps, opts.runs * 3, opts.quick ? 5 : 30);

  // Section 4: each run in a process of its own (its peak RSS is the audit's alone), the fake API in another.
  process.stderr.write('bench: section 4, audit of 10,000 AIGatewayRoutes and 1,000 EnvoyPatchPolicies from a fake API\n');
  const auditLoad = load();
  const audits: AuditFigures[] = [];
  for (let i = 0; i < opts.runs; i++) {
    const inProcess = JSON.parse(execFileSync(process.execPath, [join(DIST, 'bench', 'audit.js')], { encoding: 'utf8' })) as AuditFigures;
    // The real command over the same world, printing every finding (to /dev/null).
    const cli = JSON.parse(execFileSync(process.execPath, [join(DIST, 'bench', 'audit.js'), '--cli'], { encoding: 'utf8' })) as Pick<AuditFigures, 'cliSeconds' | 'cliPeakRssBytes'>;
    audits.push({ ...inProcess, ...cli });
  }

  // Section 1 and 2: three servers on one certificate, each loaded in turn from a separate process.
  const tlsDir = join(work, 'certs');
  const serveArgs = [
    ...(opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : []),
    join(DIST, 'src', 'cli.js'),
    'serve',
    '--standalone',
    '--listen',
    '127.0.0.1:0',
    '--tls-dir',
    tlsDir,
  ];
  const listening = /listening on (https:\/\/127\.0\.0\.1:\d+)/;
  // Start-up, standalone: once creating the CA and serving certificate (a first start), then with them on disk.
  const startup: StartupFigures = { loadAverage: load(), firstMs: 0, againMs: 0 };
  {
    const t = performance.now();
    const first = await startChild(serveArgs.slice(serveArgs.indexOf(join(DIST, 'src', 'cli.js'))), work, listening, 'stderr');
    startup.firstMs = performance.now() - t;
    await stop(first.child);
  }
  const startedAt = performance.now();
  const ours = await startChild(serveArgs, work, listening, 'stderr');
  startup.againMs = performance.now() - startedAt;
  const oursUrl = ours.match[1]!;
  const idleRss = procStatus(ours.child.pid!, 'VmRSS');
  const bareNode = await startChild([join(DIST, 'bench', 'baseline-server.js'), 'node', tlsDir], work, /^(\d+)\n/, 'stdout');
  const bareExpress = await startChild([join(DIST, 'bench', 'baseline-server.js'), 'express', tlsDir], work, /^(\d+)\n/, 'stdout');
  const children = [ours.child, bareNode.child, bareExpress.child];
  const cleanup = async () => {
    await Promise.all(children.map(stop));
    rmSync(work, { recursive: true, force: true });
  };

  const targets = [
    { name: 'aigw-admission serve', url: oursUrl, pid: ours.child.pid, requests: expected, single: singleExpected, runs: [] as LoadResult[], singleRuns: [] as LoadResult[] },
    { name: 'bare node:https', url: `https://127.0.0.1:${bareNode.match[1]}`, pid: bareNode.child.pid, requests: baselineExpected, single: singleBaseline, runs: [] as LoadResult[], singleRuns: [] as LoadResult[] },
    { name: 'bare express 5 + express.json()', url: `https://127.0.0.1:${bareExpress.match[1]}`, pid: bareExpress.child.pid, requests: baselineExpected, single: singleBaseline, runs: [] as LoadResult[], singleRuns: [] as LoadResult[] },
  ];
  const plan = (target: { url: string; pid?: number }, requests: PlannedRequest[], overallRate = 0): LoadPlan => ({
    url: target.url,
    serverPid: target.pid,
    connections: opts.connections,
    requestsPerConnection: REQUESTS_PER_CONNECTION,
    warmupSeconds: opts.warmupSeconds,
    durationSeconds: opts.durationSeconds,
    overallRate,
    requests,
  });
  const failures: string[] = [];
  const check = (name: string, r: LoadResult) => {
    if (r.errors || r.timeouts || r.non2xx || r.wrongAnswers) {
      failures.push(`${name}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx, ${r.wrongAnswers} wrong answers${r.firstWrongAnswer ? ` (first: ${r.firstWrongAnswer})` : ''}`);
    }
  };
  try {
    // V8 compiles a server's hot code in the background for seconds after it starts (the webhook's policies took about
    // 2 s of a compiler thread, the bare responder next to nothing), and a webhook that has run for a minute is past
    // that: every server first gets an untimed run of each workload, so the measured runs compare warm servers.
    for (const t of targets) {
      for (const workload of ['mix', 'single'] as const) {
        process.stderr.write(`bench: warming ${t.name} up, ${workload === 'mix' ? 'the mix' : 'the single body'}\n`);
        const r = await runLoad({ ...plan(t, workload === 'mix' ? t.requests : t.single), warmupSeconds: 0, durationSeconds: opts.quick ? 0.5 : 3 }, work);
        check(`${t.name} (${workload}, warm-up)`, r);
      }
    }
    const servedLoad = load();
    for (let round = 0; round < Math.max(opts.runs, opts.singleRuns); round++) {
      // Rotate the order so no target always runs first (or right after another's load); the mix, then the single body.
      for (const workload of ['mix', 'single'] as const) {
        const rounds = workload === 'mix' ? opts.runs : opts.singleRuns;
        if (round >= rounds) continue;
        for (let i = 0; i < targets.length; i++) {
          const t = targets[(i + round) % targets.length]!;
          process.stderr.write(`bench: run ${round + 1}/${rounds}, ${t.name}, ${workload === 'mix' ? 'the mix' : 'the single body'}\n`);
          const r = await runLoad(plan(t, workload === 'mix' ? t.requests : t.single), work);
          check(`${t.name} (${workload})`, r);
          (workload === 'mix' ? t.runs : t.singleRuns).push(r);
        }
      }
    }
    const figures: TargetFigures[] = targets.map((t) => targetFigures(t.name, t.runs));
    const singleFigures: TargetFigures[] = targets.map((t) => targetFigures(t.name, t.singleRuns));
    const halfRate = Math.max(1, Math.round(figures[0]!.rps.median / 2));
    const singleHalfRate = Math.max(1, Math.round(singleFigures[0]!.rps.median / 2));
    // The same fixed rate on the bare responder shows how much of the p99 is this machine rather than the webhook.
    const halfRuns: LoadResult[] = [];
    const halfRunsNode: LoadResult[] = [];
    for (let round = 0; round < opts.runs; round++) {
      process.stderr.write(`bench: run ${round + 1}/${opts.runs}, aigw-admission serve and bare node:https at ${halfRate} req/s\n`);
      const r = await runLoad(plan(targets[0]!, expected, halfRate), work);
      check('aigw-admission serve at half rate', r);
      halfRuns.push(r);
      const n = await runLoad(plan(targets[1]!, baselineExpected, halfRate), work);
      check('bare node:https at half rate', n);
      halfRunsNode.push(n);
    }
    const singleHalfRuns: LoadResult[] = [];
    const singleHalfRunsNode: LoadResult[] = [];
    for (let round = 0; round < opts.runs; round++) {
      process.stderr.write(`bench: run ${round + 1}/${opts.runs}, the single body on aigw-admission serve and bare node:https at ${singleHalfRate} req/s\n`);
      const r = await runLoad(plan(targets[0]!, singleExpected, singleHalfRate), work);
      check('aigw-admission serve at half rate (single)', r);
      singleHalfRuns.push(r);
      const n = await runLoad(plan(targets[1]!, singleBaseline, singleHalfRate), work);
      check('bare node:https at half rate (single)', n);
      singleHalfRunsNode.push(n);
    }
    const peakRss = procStatus(ours.child.pid!, 'VmHWM') ?? (await scrapeRss(oursUrl, readFileSync(join(tlsDir, 'ca.crt'))));
    // Free the cores for the cluster section: only serve in cluster mode and the fake API run there.
    await Promise.all(children.map(stop));
    process.stderr.write('bench: section 7, serve in cluster mode over a fake API with 10,000 routes, 10,000 BackendTrafficPolicies, 2,000 EnvoyPatchPolicies and 5,000 pods\n');
    // The fake cluster holds no AIServiceBackend of the route, so it also gets an unresolved-backend warning there:
    // the verdict and the patch are checked, the number of warnings is not.
    const clusterExpected = singleExpected.map((e) => ({ ...e, warnings: null }));
    const cluster = await clusterServe(opts, work, tlsDir, clusterExpected, (r) => check('aigw-admission serve in cluster mode (single)', r), plan);
    await cleanup();

    // Section 6: the worst cases, each against a fresh serve, after the load so they do not disturb it.
    process.stderr.write('bench: section 6, worst cases (largest legal route, costliest CEL, thousands of findings, 2.9 MB objects, silent sockets)\n');
    const worst = await worstCases();

    const report = render({
      opts,
      machine,
      bodies,
      rows: [...rows.values()],
      figures,
      halfRate,
      halfRuns,
      halfRunsNode,
      single: { row: singleRow, figures: singleFigures, halfRate: singleHalfRate, halfRuns: singleHalfRuns, halfRunsNode: singleHalfRunsNode },
      servedLoad,
      sizesLoad,
      auditLoad,
      startup,
      cluster,
      sizes,
      audits,
      peakRss,
      idleRss,
      failures,
      seconds: (Date.now() - started) / 1000,
    });
    process.stdout.write(report.text);
    process.stdout.write(`\n6. ${renderWorstCases(worst)}\n`);
    process.stdout.write(report.tail);
    (report.json as Record<string, unknown>).worstCases = worst;
    const resultsDir = join(ROOT, 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(join(resultsDir, 'latest.json'), `${JSON.stringify(report.json, null, 2)}\n`);
    process.stderr.write(`bench: figures written to bench/results/latest.json\n`);
    if (failures.length > 0) {
      process.stderr.write(`bench: FAILED, requests errored or got wrong answers:\n  ${failures.join('\n  ')}\n`);
      process.exitCode = 1;
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
}

function render(r: {
  opts: Options;
  machine: { cpu: string; memoryGB: number; node: string; loadAverageAtStart: number[] };
  bodies: BenchBody[];
  rows: BodyRow[];
  figures: TargetFigures[];
  halfRate: number;
  halfRuns: LoadResult[];
  halfRunsNode: LoadResult[];
  single: { row: BodyRow; figures: TargetFigures[]; halfRate: number; halfRuns: LoadResult[]; halfRunsNode: LoadResult[] };
  servedLoad: number[];
  sizesLoad: number[];
  auditLoad: number[];
  startup: StartupFigures;
  cluster: ClusterFigures;
  sizes: SizeSeries[];
  audits: AuditFigures[];
  peakRss: number | undefined;
  idleRss: number | undefined;
  failures: string[];
  seconds: number;
}): { text: string; tail: string; json: unknown } {
  const [ours, node, express] = r.figures as [TargetFigures, TargetFigures, TargetFigures];
  const bytes = r.bodies.map((b) => Buffer.byteLength(b.text));
  const out: string[] = [];
  out.push(
    `aigw-admission benchmark: ${r.machine.cpu}, ${r.machine.memoryGB} GB, Node ${r.machine.node}, load average at start ${r.machine.loadAverageAtStart.join(' ')}`,
    `Each figure: median [min–max] of ${r.opts.runs} runs (the single body in section 1: ${r.opts.singleRuns}) of ${r.opts.durationSeconds} s after ${r.opts.warmupSeconds} s warm-up; ${r.opts.connections} keep-alive TLS connections; latencies in ms.`,
    `Every server runs with the Deployment's NODE_OPTIONS (${DEPLOYED_NODE_OPTIONS || 'none'}) and gets an untimed ${r.opts.quick ? 0.5 : 3} s run of each workload first (V8 compiles hot code in the background for seconds).`,
    '',
    `1. Served throughput and latency (load average ${r.servedLoad.join(' ')}): a mix of ${r.bodies.length} AdmissionReviews (${kb(Math.min(...bytes))} – ${kb(Math.max(...bytes))}), load generator in its own process`,
  );
  const served = [['', 'req/s', 'p50', 'p99', 'p99.9', 'server CPU µs/req']];
  for (const f of r.figures) served.push([f.name, showSpread(f.rps), showSpread(f.p50), showSpread(f.p99), showSpread(f.p999), f.cpuUs ? showSpread(f.cpuUs) : '—']);
  out.push(table(served));
  out.push('', '   Bodies (each reviewed once in process before the load; "fired" = policies that reported a finding or wrote a patch)');
  const bodyRows = [['body', 'endpoint', 'n', 'size', 'verdict', 'policies fired']];
  for (const row of r.rows) {
    const allowed = row.allowed.filter(Boolean).length;
    const patched = row.patchOps.filter((n) => n > 0).length;
    const verdict = `${allowed === row.count ? 'allowed' : allowed === 0 ? 'denied' : `${allowed}/${row.count} allowed`}${patched ? `, ${row.count > 1 ? `${patched} ` : ''}patched` : ''}`;
    const size = row.count === 1 ? kb(row.bytes[0]!) : `${kb(Math.min(...row.bytes))}–${kb(Math.max(...row.bytes))}`;
    const fired = row.fired.size === 0 ? 'none' : [...row.fired].map(([id, n]) => (row.count > 1 ? `${id} (${n})` : id)).join(', ');
    bodyRows.push([row.type, row.endpoint, String(row.count), size, verdict, fired]);
  }
  out.push(table(bodyRows, '   ').replace(/ +$/gm, ''));
  const sr = r.single.row;
  out.push(
    '',
    `   The single body: ${sr.type} on ${sr.endpoint} (${kb(sr.bytes[0]!)}; ${sr.allowed[0] ? 'allowed' : 'denied'}; fired: ${sr.fired.size ? [...sr.fired.keys()].join(', ') : 'none'}), every request`,
  );
  const singleServed = [['', 'req/s', 'p50', 'p99', 'p99.9', 'server CPU µs/req']];
  for (const f of r.single.figures) singleServed.push([f.name, showSpread(f.rps), showSpread(f.p50), showSpread(f.p99), showSpread(f.p999), f.cpuUs ? showSpread(f.cpuUs) : '—']);
  out.push(table(singleServed));

  const ratio = (a: number, b: number) => num(a / b, 2);
  const roundRatios = (a: TargetFigures, b: TargetFigures): Spread => spread(a.runs.map((run, k) => run.rps / b.runs[k]!.rps));
  const cpuRatio = (a: TargetFigures, b: TargetFigures) => (a.cpuUs && b.cpuUs ? `${ratio(a.cpuUs.median, b.cpuUs.median)}×` : '—');
  const halfP99 = spread(r.halfRuns.map((h) => h.latencyMs.p99));
  const halfP99Node = spread(r.halfRunsNode.map((h) => h.latencyMs.p99));
  const [sOurs, sNode, sExpress] = r.single.figures as [TargetFigures, TargetFigures, TargetFigures];
  const sHalfP99 = spread(r.single.halfRuns.map((h) => h.latencyMs.p99));
  const sHalfP99Node = spread(r.single.halfRunsNode.map((h) => h.latencyMs.p99));
  out.push(
    '',
    '2. Against the baselines (medians; same bodies, certificate and connections), the mix and the single body side by side',
    table([
      ['', 'mix', 'single body', 'target'],
      ['throughput, ours ÷ bare node:https', `${ratio(ours.rps.median, node.rps.median)}×`, `${ratio(sOurs.rps.median, sNode.rps.median)}×`, 'mix ≥ 0.5×, single ≥ 0.67×'],
      // Each round's runs of ours and the bare responder follow each other within seconds: a drift of the machine's speed
      // over minutes moves both, so the ratio round by round shows how far the medians' ratio can be trusted.
      ['same, round by round: median [min–max]', `${showSpread(roundRatios(ours, node), 2)}×`, `${showSpread(roundRatios(sOurs, sNode), 2)}×`, ''],
      ['throughput, ours ÷ bare express', `${ratio(ours.rps.median, express.rps.median)}×`, `${ratio(sOurs.rps.median, sExpress.rps.median)}×`, 'single ≥ 1.5×'],
      ['p99 at 10 connections, ours ÷ bare node:https', `${ratio(ours.p99.median, node.p99.median)}×`, `${ratio(sOurs.p99.median, sNode.p99.median)}×`, '≤ 2×'],
      ['CPU per request, ours ÷ bare node:https', cpuRatio(ours, node), cpuRatio(sOurs, sNode), ''],
      ['CPU per request, ours ÷ bare express', cpuRatio(ours, express), cpuRatio(sOurs, sExpress), ''],
      ['half of our maximum rate, req/s', r.halfRate.toLocaleString('en-US'), r.single.halfRate.toLocaleString('en-US'), ''],
      ['p99 there, ours (ms)', showSpread(halfP99), showSpread(sHalfP99), ''],
      ['p99 there, bare node:https at the same rate (ms)', showSpread(halfP99Node), showSpread(sHalfP99Node), ''],
      ['p99 there, ours ÷ bare node:https', `${ratio(halfP99.median, halfP99Node.median)}×`, `${ratio(sHalfP99.median, sHalfP99Node.median)}×`, '≤ 2×'],
    ]),
  );

  out.push('', `3. Cost against object size, in process (load average ${r.sizesLoad.join(' ')}): CPU µs per review, median [min–max] of ${r.opts.runs * 3} samples; review() alone, and JSON.parse + review() + JSON.stringify (also per KB of body: flat when the cost is linear)`);
  for (const s of r.sizes) {
    const rowsOut = [['', 'body', 'spec', 'review()', 'growth', 'parse+review+serialize', 'growth', 'per body KB', 'size growth', 'verdict']];
    s.points.forEach((p, i) => {
      const prev = s.points[i - 1];
      rowsOut.push([
        p.label,
        kb(p.bodyBytes),
        kb(p.specBytes),
        showSpread(p.reviewUs),
        prev ? `${num(p.reviewUs.median / prev.reviewUs.median, 2)}×` : '',
        showSpread(p.fullUs),
        prev ? `${num(p.fullUs.median / prev.fullUs.median, 2)}×` : '',
        num(p.fullUs.median / (p.bodyBytes / 1024), 2),
        prev ? `${num(p.bodyBytes / prev.bodyBytes, 2)}×` : '',
        `${p.allowed ? 'allowed' : 'denied'}${p.patchOps ? `, ${p.patchOps} ops` : ''}`,
      ]);
    });
    const fired = [...new Set(s.points.flatMap((p) => p.fired))];
    out.push(`   ${s.title} on /${s.endpoint}; fired: ${fired.length ? fired.join(', ') : 'none'}`, table(rowsOut, '   '));
  }

  if (r.audits.length > 0) {
    const a = r.audits[0]!;
    const sec = (pick: (f: AuditFigures) => number) => showSpread(spread(r.audits.map(pick)));
    out.push(
      '',
      `4. Audit (load average ${r.auditLoad.join(' ')}): ${a.routes.toLocaleString('en')} AIGatewayRoutes (3 rules, 2 priority levels each) and ${a.patchPolicies.toLocaleString('en')} EnvoyPatchPolicies, listed in pages of ${a.pageSize} (${a.listRequests} list requests) from a fake API in another process, every policy (${a.findings.toLocaleString('en')} findings)`,
      table(
        [
          ['', 'list s', 'evaluate s', 'total s', 'peak RSS MB'],
          ['audit (in process, findings counted)', sec((f) => f.listSeconds), sec((f) => f.evaluateSeconds), sec((f) => f.totalSeconds), sec((f) => f.peakRssBytes / MB)],
          [
            'aigw-admission audit -o json > /dev/null',
            '',
            '',
            sec((f) => f.cliSeconds ?? NaN),
            r.audits.every((f) => typeof f.cliPeakRssBytes === 'number') ? sec((f) => f.cliPeakRssBytes! / MB) : 'unknown (no /proc)',
          ],
        ],
        '   ',
      ),
    );
  } else out.push('', '4. Audit: not run');
  out.push(
    '',
    `5. Peak RSS of serve under the load of section 1: ${r.peakRss ? `${num(r.peakRss / MB, 3)} MB` : 'unknown'} (VmHWM; ${r.idleRss ? `${num(r.idleRss / MB, 3)} MB idle after start` : 'idle unknown'}; target < 150 MB)`,
  );
  const c = r.cluster;
  const cf = targetFigures('cluster', c.runs);
  const mb = (b: number | undefined) => (b === undefined ? 'unknown' : `${num(b / MB, 3)} MB`);
  // Printed after section 6 (the worst cases).
  const tail: string[] = [];
  tail.push(
    '',
    `7. Cluster mode (load average ${c.loadAverage.join(' ')}): serve's informer cache filled from a fake API in another process with ${c.counts.routes.toLocaleString('en')} AIGatewayRoutes, ${c.counts.backendTrafficPolicies.toLocaleString('en')} BackendTrafficPolicies, ${c.counts.patchPolicies.toLocaleString('en')} EnvoyPatchPolicies and ${c.counts.pods.toLocaleString('en')} proxy pods (with managedFields, last-applied annotation and status, as a real API server returns them)`,
    table(
      [
        ['', 'value', 'target'],
        ['start to ready, cold cache (s)', num(c.readyMs / 1000, 3), ''],
        ['RSS once ready', mb(c.rssReadyBytes), '≤ 250 MB'],
        ['peak RSS (VmHWM, after the load below)', mb(c.peakRssBytes), '≤ 250 MB'],
        ['single body: req/s', showSpread(cf.rps), ''],
        ['single body: p50 ms (standalone)', `${showSpread(cf.p50)} (${showSpread(sOurs.p50)})`, 'unchanged'],
        ['single body: p99 ms (standalone)', `${showSpread(cf.p99)} (${showSpread(sOurs.p99)})`, 'unchanged'],
      ],
      '   ',
    ),
    '',
    `8. Start-up, standalone (load average ${r.startup.loadAverage.join(' ')}): from spawning \`serve --standalone\` to listening and ready: ${num(r.startup.firstMs / 1000, 3)} s on a first start (creates the CA and the serving certificate), ${num(r.startup.againMs / 1000, 3)} s with them on disk (target < 3 s); in cluster mode with the cold cache above, ${num(c.readyMs / 1000, 3)} s to ready (${num(c.listeningMs / 1000, 3)} s to listening).`,
  );
  out.push('', `${r.failures.length ? `FAILED: ${r.failures.length} runs had errors or wrong answers` : 'Every counted response had status 200, the request uid and the expected verdict.'} Took ${Math.round(r.seconds)} s.`, '');

  const json = {
    takenAt: new Date().toISOString(),
    machine: r.machine,
    options: r.opts,
    served: {
      bodies: r.rows.map((row) => ({ ...row, fired: Object.fromEntries(row.fired) })),
      targets: r.figures,
      ratios: {
        throughputVsNode: ours.rps.median / node.rps.median,
        throughputVsNodeByRound: roundRatios(ours, node),
        throughputVsExpress: ours.rps.median / express.rps.median,
        p99VsNode: ours.p99.median / node.p99.median,
        p99VsExpress: ours.p99.median / express.p99.median,
        cpuPerRequestVsNode: ours.cpuUs && node.cpuUs ? ours.cpuUs.median / node.cpuUs.median : undefined,
        cpuPerRequestVsExpress: ours.cpuUs && express.cpuUs ? ours.cpuUs.median / express.cpuUs.median : undefined,
      },
      halfRate: { rate: r.halfRate, p99: halfP99, runs: r.halfRuns, bareNodeP99: halfP99Node, bareNodeRuns: r.halfRunsNode },
      loadAverage: r.servedLoad,
    },
    single: {
      body: { ...r.single.row, fired: Object.fromEntries(r.single.row.fired) },
      targets: r.single.figures,
      ratios: {
        throughputVsNode: sOurs.rps.median / sNode.rps.median,
        throughputVsNodeByRound: roundRatios(sOurs, sNode),
        throughputVsExpress: sOurs.rps.median / sExpress.rps.median,
        p99VsNode: sOurs.p99.median / sNode.p99.median,
        halfRateP99VsNode: sHalfP99.median / sHalfP99Node.median,
      },
      halfRate: { rate: r.single.halfRate, p99: sHalfP99, runs: r.single.halfRuns, bareNodeP99: sHalfP99Node, bareNodeRuns: r.single.halfRunsNode },
    },
    cluster: { ...r.cluster, figures: cf },
    startup: r.startup,
    sizes: r.sizes,
    audit: r.audits,
    serveRss: { peakBytes: r.peakRss, idleBytes: r.idleRss },
    failures: r.failures,
  };
  return { text: out.join('\n'), tail: `${tail.join('\n')}\n`, json };
}

if (!existsSync(join(DIST, 'src', 'cli.js'))) {
  process.stderr.write('bench: dist/ is missing; run `npm run build` first (npm run bench does)\n');
  process.exit(2);
}
await main();
