/**
 * The load generator, run as its own process so it never shares the server's event loop:
 * `node dist/bench/load.js PLAN.json` runs autocannon (warm-up, then the measured run) and prints one JSON result.
 * Every response it counts is checked: status 200, the request's uid, the expected verdict.
 */
import type { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

export interface PlannedRequest {
  path: string;
  body: string;
  uid: string;
  allowed: boolean;
  /** Whether a JSON patch is expected; null when not checked (the baselines never patch). */
  patched: boolean | null;
  /** How many warnings are expected; null when not checked. */
  warnings: number | null;
}

export interface LoadPlan {
  url: string;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Requests per second across all connections; 0 for as fast as the server answers. */
  overallRate: number;
  /** Requests on one connection before the client opens a new one (see REQUESTS_PER_CONNECTION in run.ts). */
  requestsPerConnection: number;
  /** The server's process id, to read the CPU time it spent in the measured run (Linux /proc). */
  serverPid?: number;
  requests: PlannedRequest[];
}

export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  latencyMs: { p50: number; p99: number; p999: number; max: number };
  /** CPU time (user + system) the server process used per answered request, in µs; undefined without /proc. */
  serverCpuUsPerRequest?: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  wrongAnswers: number;
  firstWrongAnswer?: string;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** utime + stime of a process in seconds, from /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s). */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

function wrongAnswer(expected: PlannedRequest, status: number, text: string): string | undefined {
  if (status !== 200) return `HTTP ${status}: ${text.slice(0, 200)}`;
  let response: { uid?: unknown; allowed?: unknown; patch?: unknown; warnings?: unknown[] } | undefined;
  try {
    response = (JSON.parse(text) as { response?: typeof response }).response;
  } catch {
    return `not JSON: ${text.slice(0, 200)}`;
  }
  if (!response) return `no response field: ${text.slice(0, 200)}`;
  if (response.uid !== expected.uid) return `uid ${String(response.uid)}, expected ${expected.uid}`;
  if (response.allowed !== expected.allowed) return `${expected.uid}: allowed ${String(response.allowed)}, expected ${expected.allowed}`;
  if (expected.patched !== null && (typeof response.patch === 'string') !== expected.patched) {
    return `${expected.uid}: ${expected.patched ? 'no patch' : 'a patch'}, expected ${expected.patched ? 'a patch' : 'none'}`;
  }
  if (expected.warnings !== null && (response.warnings?.length ?? 0) !== expected.warnings) {
    return `${expected.uid}: ${response.warnings?.length ?? 0} warnings, expected ${expected.warnings}`;
  }
  return undefined;
}

async function run(plan: LoadPlan, seconds: number, measure: boolean): Promise<LoadResult> {
  const latencies: number[] = [];
  let wrongAnswers = 0;
  let firstWrongAnswer: string | undefined;
  const requests = plan.requests.map((r) => ({
    method: 'POST' as const,
    path: r.path,
    headers: { 'content-type': 'application/json' },
    body: r.body,
    onResponse: (status: number, text: string) => {
      const wrong = wrongAnswer(r, status, String(text));
      if (wrong) {
        wrongAnswers++;
        firstWrongAnswer ??= wrong;
      }
    },
  }));
  const cpuBefore = measure ? cpuSeconds(plan.serverPid) : undefined;
  const started = process.hrtime.bigint();
  const instance = autocannon({
    url: plan.url,
    connections: plan.connections,
    pipelining: 1,
    duration: seconds,
    // autocannon stops only on a sample tick: with the default 1 s ticks a 5 s run lasts 6 s and a 0.25 s one 1 s.
    sampleInt: 100,
    reconnectRate: plan.requestsPerConnection,
    requests,
    ...(plan.overallRate > 0 ? { overallRate: plan.overallRate } : {}),
  }) as unknown as EventEmitter & Promise<autocannon.Result>; // without a callback it is both, the types say only Promise
  // autocannon's own histogram has whole-millisecond resolution; keep every latency to report sub-millisecond percentiles.
  if (measure) instance.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => latencies.push(ms));
  const result = await instance;
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuAfter = cpuBefore === undefined ? undefined : cpuSeconds(plan.serverPid);
  const sorted = Float64Array.from(latencies).sort();
  return {
    requests: latencies.length,
    seconds: elapsed,
    rps: latencies.length / elapsed,
    serverCpuUsPerRequest: cpuBefore !== undefined && cpuAfter !== undefined && latencies.length ? ((cpuAfter - cpuBefore) * 1e6) / latencies.length : undefined,
    latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), p999: percentile(sorted, 99.9), max: sorted[sorted.length - 1] ?? NaN },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    wrongAnswers,
    firstWrongAnswer,
  };
}

const plan = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadPlan;
if (plan.warmupSeconds > 0) {
  const warm = await run(plan, plan.warmupSeconds, false);
  if (warm.wrongAnswers > 0 || warm.errors > 0) {
    process.stdout.write(JSON.stringify(warm));
    process.exit(0);
  }
}
process.stdout.write(JSON.stringify(await run(plan, plan.durationSeconds, true)));
