/**
 * The worst cases a careless or hostile writer can send (issue "Bounded cost"), each against a fresh
 * `serve --standalone` on loopback so its peak RSS is that case's alone. For each: answer time, answer size, the
 * server's peak RSS (VmHWM), and the worst `/healthz` latency seen while it ran (polled every 10 ms).
 * Run by `npm run bench` after the other sections, or alone: `node dist/bench/worst-case.js`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { ROOT } from './bodies.js';
import { DEPLOYED_NODE_OPTIONS } from './deployed.js';
import { procStatus } from './proc.js';
import { num, table } from './stats.js';

const MB = 1024 * 1024;
const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false, maxSockets: 64 });

interface Case {
  name: string;
  endpoint: 'mutate' | 'validate';
  /** Bodies sent at once. */
  bodies: () => string[];
  /** TCP sockets opened first and held, sending nothing (no TLS hello). */
  silentSockets?: number;
}

function reviewBody(object: unknown, uid: string): string {
  const o = object as { apiVersion: string; kind: string; metadata: { name: string; namespace: string } };
  const [group, version] = o.apiVersion.split('/');
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid, kind: { group, version, kind: o.kind }, name: o.metadata.name, namespace: o.metadata.namespace, operation: 'CREATE', object, oldObject: null },
  });
}

const route = (spec: Record<string, unknown>) => ({
  apiVersion: 'aigateway.envoyproxy.io/v1alpha1',
  kind: 'AIGatewayRoute',
  metadata: { name: 'worst', namespace: 'bench' },
  spec: { parentRefs: [{ name: 'gw' }], ...spec },
});

/** The largest AIGatewayRoute the CRD allows under etcd's 1.5 MiB: 15 rules × 128 backends with header mutations. */
function largestLegalRoute(): unknown {
  const header = (i: number) => ({ name: `x-bench-${i}`, value: 'v'.repeat(36) });
  return route({
    rules: Array.from({ length: 15 }, (_, r) => ({
      name: `rule-${r}`,
      matches: [{ headers: [{ type: 'Exact', name: 'x-ai-eg-model', value: `model-${r}` }] }],
      backendRefs: Array.from({ length: 128 }, (_, b) => ({ name: `backend-${r}-${b}`, priority: b % 2, weight: 1, headerMutation: { set: Array.from({ length: 3 }, (_, i) => header(i)) } })),
    })),
  });
}

/** 36 cost expressions (the CRD's maximum), each just under the per-expression budget, distinct per request. */
function costliestCel(seed: number): unknown {
  const list = `[${Array.from({ length: 19 }, (_, i) => `${i + seed}u`).join(',')}]`;
  const cel = (k: number) => `uint(${list}.map(a, ${list}.map(b, ${list}.map(c, a + b + c + ${k}u))).size())`;
  return route({
    rules: [{ name: 'chat', backendRefs: [{ name: 'a' }] }],
    llmRequestCosts: Array.from({ length: 36 }, (_, k) => ({ metadataKey: `cost-${k}`, type: 'CEL', cel: cel(k) })),
  });
}

/** Thousands of findings: 4,000 rules, half with an unparseable duration, half disabling the idle timeout. */
function thousandsOfFindings(): unknown {
  const levels = [
    { name: 'a', priority: 0 },
    { name: 'b', priority: 1 },
  ];
  return route({
    rules: [
      ...Array.from({ length: 2000 }, (_, i) => ({ name: `bad-${i}`, streamIdleTimeout: `${i}parsecs`, backendRefs: levels })),
      ...Array.from({ length: 2000 }, (_, i) => ({ name: `zero-${i}`, streamIdleTimeout: '0s', timeouts: { request: '30s' }, backendRefs: levels })),
    ],
  });
}

/** The 2.9 MB object of the report: a route with thousands of rules, which the schema refuses after /mutate. */
function hugeRoute(): unknown {
  return route({ rules: Array.from({ length: 22_000 }, (_, i) => ({ name: `rule-${i}`, matches: [{ headers: [{ type: 'Exact', name: 'x-ai-eg-model', value: `m-${i}` }] }], backendRefs: [{ name: 'a' }] })) });
}

const CASES: Case[] = [
  { name: 'largest legal AIGatewayRoute ×4, /mutate', endpoint: 'mutate', bodies: () => [0, 1, 2, 3].map((i) => reviewBody(largestLegalRoute(), `l-${i}`)) },
  { name: 'largest legal AIGatewayRoute ×4, /validate', endpoint: 'validate', bodies: () => [0, 1, 2, 3].map((i) => reviewBody(largestLegalRoute(), `v-${i}`)) },
  { name: 'costliest CEL the limits allow ×4, /validate', endpoint: 'validate', bodies: () => [0, 1, 2, 3].map((i) => reviewBody(costliestCel(i * 100), `c-${i}`)) },
  { name: '4,000 rules, 4,000 findings, /validate', endpoint: 'validate', bodies: () => [reviewBody(thousandsOfFindings(), 'f-0')] },
  { name: '2.9 MB route ×4, /mutate', endpoint: 'mutate', bodies: () => [0, 1, 2, 3].map((i) => reviewBody(hugeRoute(), `h-${i}`)) },
  { name: '1,100 sockets with no TLS hello, then 1 review', endpoint: 'validate', silentSockets: 1100, bodies: () => [reviewBody(costliestCel(7), 's-0')] },
];

function startServe(tlsDir: string): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), 'serve', '--standalone', '--listen', '127.0.0.1:0', '--tls-dir', tlsDir], {
      env: { ...process.env, NODE_OPTIONS: DEPLOYED_NODE_OPTIONS },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let seen = '';
    child.stderr!.on('data', (c: Buffer) => {
      seen += c.toString();
      const m = /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(seen);
      if (m) resolve({ child, url: m[1]! });
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${seen}`)));
  });
}

function post(url: string, path: string, body: string): Promise<{ ms: number; bytes: number; status: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = https.request(`${url}${path}`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ ms: performance.now() - started, bytes, status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Polls /healthz every 10 ms until stopped; resolves with the worst latency seen (ms). */
function watchHealth(url: string): { stop: () => Promise<number> } {
  let running = true;
  let worst = 0;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      await new Promise<void>((resolve) => {
        https.get(`${url}/healthz`, { agent }, (res) => res.resume().on('end', () => resolve())).on('error', () => resolve());
      });
      worst = Math.max(worst, performance.now() - started);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return worst;
    },
  };
}

export interface WorstCaseRow {
  name: string;
  requestBytes: number;
  answerMs: number;
  answerBytes: number;
  status: string;
  peakRssMB: number;
  healthzWorstMs: number;
}

export async function worstCases(): Promise<WorstCaseRow[]> {
  const rows: WorstCaseRow[] = [];
  for (const c of CASES) {
    const work = mkdtempSync(join(tmpdir(), 'aigw-worst-'));
    const { child, url } = await startServe(join(work, 'tls'));
    const sockets: Socket[] = [];
    try {
      const port = Number(new URL(url).port);
      for (let i = 0; i < (c.silentSockets ?? 0); i++) {
        const s = connect(port, '127.0.0.1');
        s.on('error', () => {});
        sockets.push(s);
      }
      const bodies = c.bodies();
      const health = watchHealth(url);
      await new Promise((r) => setTimeout(r, 50));
      const answers = await Promise.all(bodies.map((b) => post(url, `/${c.endpoint}`, b).catch(() => ({ ms: NaN, bytes: 0, status: 0 }))));
      const healthzWorstMs = await health.stop();
      rows.push({
        name: c.name,
        requestBytes: Math.max(...bodies.map((b) => Buffer.byteLength(b))),
        answerMs: Math.max(...answers.map((a) => a.ms)),
        answerBytes: Math.max(...answers.map((a) => a.bytes)),
        status: [...new Set(answers.map((a) => String(a.status)))].join(','),
        peakRssMB: (procStatus(child.pid!, 'VmHWM') ?? 0) / MB,
        healthzWorstMs,
      });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
      rmSync(work, { recursive: true, force: true });
    }
  }
  agent.destroy();
  return rows;
}

export function renderWorstCases(rows: readonly WorstCaseRow[]): string {
  return [
    `Worst cases (each against a fresh serve; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')})`,
    table([
      ['case', 'request', 'slowest answer', 'answer size', 'status', 'peak RSS', 'worst /healthz meanwhile'],
      ...rows.map((r) => [
        r.name,
        `${num(r.requestBytes / 1024, 3)} KB`,
        `${num(r.answerMs, 3)} ms`,
        `${num(r.answerBytes / 1024, 3)} KB`,
        r.status,
        `${num(r.peakRssMB, 3)} MB`,
        `${num(r.healthzWorstMs, 3)} ms`,
      ]),
    ]),
  ].join('\n');
}

if (process.argv[1]?.endsWith('worst-case.js')) {
  process.stdout.write(`${renderWorstCases(await worstCases())}\n`);
}
