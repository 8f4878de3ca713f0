/**
 * Section 4: the audit path (list in pages through @kubernetes/client-node, then every policy) over 10,000
 * AIGatewayRoutes and 1,000 EnvoyPatchPolicies served by a fake API server that answers real list pages. Runs in its
 * own process so its peak RSS is its own; prints one JSON line.
 */
import http from 'node:http';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { KubeConfig } from '@kubernetes/client-node';
import { ALL_POLICIES } from '../policies/index.js';
import { PolicySet } from '../src/review/policy-set.js';
import { MemoryWorld } from '../src/world/world.js';
import { makePageLister } from '../src/world/list-page.js';
import { auditObjects, listCluster, objectsOf } from '../src/audit/audit.js';
import type { KubeObject } from '../src/kube/types.js';

export interface AuditFigures {
  routes: number;
  patchPolicies: number;
  listSeconds: number;
  evaluateSeconds: number;
  totalSeconds: number;
  listRequests: number;
  findings: number;
  peakRssBytes: number;
}

const NAMESPACES = 100;

function routes(count: number): KubeObject[] {
  return Array.from({ length: count }, (_, i) => ({
    apiVersion: 'aigateway.envoyproxy.io/v1beta1',
    kind: 'AIGatewayRoute',
    metadata: { name: `route-${i}`, namespace: `team-${i % NAMESPACES}`, uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, resourceVersion: String(1000 + i) },
    spec: {
      parentRefs: [{ name: 'ai-gateway', kind: 'Gateway', group: 'gateway.networking.k8s.io' }],
      rules: ['chat', 'embeddings', 'vision'].map((name, r) => ({
        name,
        matches: [{ headers: [{ type: 'Exact', name: 'x-ai-eg-model', value: `model-${r}` }] }],
        backendRefs: [
          { name: 'openai', priority: 0, weight: 1 },
          { name: 'anthropic', priority: 1, weight: 1 },
        ],
        timeouts: { request: '60s' },
        streamIdleTimeout: '10s',
        modelsOwnedBy: 'Envoy AI Gateway',
      })),
    },
  }));
}

function patchPolicies(count: number): KubeObject[] {
  return Array.from({ length: count }, (_, i) => ({
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    kind: 'EnvoyPatchPolicy',
    metadata: { name: `patch-${i}`, namespace: `team-${i % NAMESPACES}`, resourceVersion: String(50000 + i) },
    spec: {
      type: 'JSONPatch',
      targetRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'ai-gateway' },
      jsonPatches: [
        {
          type: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
          name: `team-${i % NAMESPACES}/ai-gateway/http`,
          operation: { op: 'add', jsonPath: `..routes[?(@.name=='httproute/team-${i % NAMESPACES}/route-${i}/rule/1/match/0/*')]`, path: '/timeout', value: '30s' },
        },
      ],
    },
  }));
}

/** Serves `/apis/<group>/<version>/<plural>` and `/api/v1/pods` as paged lists (`limit` + `continue`), like the API server. */
function fakeApi(stores: Map<string, KubeObject[]>): { server: http.Server; requests: () => number } {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    const url = new URL(req.url ?? '/', 'http://x');
    const plural = url.pathname.split('/').at(-1) ?? '';
    const items = stores.get(plural);
    if (!items) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}');
      return;
    }
    const limit = Number(url.searchParams.get('limit') ?? items.length) || items.length;
    const start = Number(url.searchParams.get('continue') ?? 0);
    const page = items.slice(start, start + limit);
    const next = start + limit < items.length ? String(start + limit) : undefined;
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '99999', ...(next ? { continue: next } : {}) }, items: page });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  });
  return { server, requests: () => requests };
}

function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
}

/** The fake API in a process of its own, so the audit's peak RSS does not include the objects the fake serves. */
async function startFakeApi(routeCount: number, patchCount: number): Promise<{ port: number; stop(): Promise<number> }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', String(routeCount), String(patchCount)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d: string) => {
      out += d;
      const m = /^listening (\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`fake API exited with ${code}`)));
  });
  return {
    port,
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
      const m = /requests (\d+)/.exec(out);
      return m ? Number(m[1]) : 0;
    },
  };
}

function serveFake(routeCount: number, patchCount: number): void {
  const stores = new Map<string, KubeObject[]>([
    ['aigatewayroutes', routes(routeCount)],
    ['envoypatchpolicies', patchPolicies(patchCount)],
    ['aiservicebackends', []],
    ['backendtrafficpolicies', []],
    ['backends', []],
    ['httproutes', []],
    ['pods', []],
  ]);
  const api = fakeApi(stores);
  api.server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(api.server.address() as { port: number }).port}\n`));
  process.on('SIGTERM', () => {
    process.stdout.write(`requests ${api.requests()}\n`, () => process.exit(0));
  });
}

export async function runAudit(routeCount = 10_000, patchCount = 1_000): Promise<AuditFigures> {
  const api = await startFakeApi(routeCount, patchCount);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${api.port}`, skipTLSVerify: true }],
    users: [{ name: 'bench' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'bench' }],
    currentContext: 'fake',
  });
  const started = performance.now();
  const listed = await listCluster(makePageLister(kc));
  const listedAt = performance.now();
  const { objects, pods } = objectsOf((key) => listed.objects.get(key) ?? []);
  const result = auditObjects(objects, pods, {
    policies: new PolicySet(ALL_POLICIES),
    world: new MemoryWorld(objects),
    kubernetesMinor: 33,
    now: () => new Date(),
  });
  const done = performance.now();
  const listRequests = await api.stop();
  return {
    routes: routeCount,
    patchPolicies: patchCount,
    listSeconds: (listedAt - started) / 1000,
    evaluateSeconds: (done - listedAt) / 1000,
    totalSeconds: (done - started) / 1000,
    listRequests,
    findings: result.findings.length,
    peakRssBytes: peakRss(),
  };
}

if (process.argv[2] === '--serve') {
  serveFake(Number(process.argv[3]), Number(process.argv[4]));
} else if (process.argv[1]?.endsWith('audit.js')) {
  const [routeCount, patchCount] = process.argv.slice(2).map(Number);
  runAudit(routeCount || undefined, patchCount || undefined).then(
    (f) => process.stdout.write(`${JSON.stringify(f)}\n`),
    (err) => {
      process.stderr.write(`bench audit: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
