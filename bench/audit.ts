/**
 * Section 4: the audit path (list in pages through @kubernetes/client-node, then every policy) over 10,000
 * AIGatewayRoutes and 1,000 EnvoyPatchPolicies served by a fake API server that answers real list pages. Runs in its
 * own process so its peak RSS is its own; prints one JSON line.
 */
import http from 'node:http';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { KubeObject } from '../src/kube/types.js';
import { procStatus } from './proc.js';
import { keepYoungGenerationSmall } from '../src/cli/batch-heap.js';

export interface AuditFigures {
  routes: number;
  patchPolicies: number;
  /** Objects per list request (the audit's own page size). */
  pageSize: number;
  listSeconds: number;
  evaluateSeconds: number;
  totalSeconds: number;
  listRequests: number;
  findings: number;
  peakRssBytes: number;
  /** RSS before the first list request: node, @kubernetes/client-node and the policies, loaded. */
  startRssBytes: number;
  /** Peak RSS once everything is listed, before the policies run. */
  listedPeakRssBytes: number;
  /** The real command, `aigw-admission audit -o json` (stdout to /dev/null), against the same fake API: wall seconds. */
  cliSeconds?: number;
  /** Its peak RSS (VmHWM polled from /proc); null where there is no /proc. */
  cliPeakRssBytes?: number | null;
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

/**
 * Serves `/apis/<group>/<version>/<plural>` and `/api/v1/pods` as paged lists (`limit` + `continue`), like the API
 * server; `/version`; and watches (`watch=true`) held open without events, as on a quiet cluster.
 */
function fakeApi(stores: Map<string, KubeObject[]>): { server: http.Server; requests: () => number } {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname.startsWith('/version')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"major":"1","minor":"33","gitVersion":"v1.33.0"}');
      return;
    }
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.flushHeaders();
      return;
    }
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
  return procStatus('self', 'VmHWM') ?? process.memoryUsage().rss;
}

/** The fake API in a process of its own, so the audit's peak RSS does not include the objects the fake serves. */
export async function startFakeApi(counts: FakeCounts): Promise<{ port: number; stop(): Promise<number> }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', JSON.stringify(counts)], { stdio: ['ignore', 'pipe', 'inherit'] });
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

function backendTrafficPolicies(count: number): KubeObject[] {
  return Array.from({ length: count }, (_, i) => ({
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    kind: 'BackendTrafficPolicy',
    metadata: { name: `retry-${i}`, namespace: `team-${i % NAMESPACES}`, uid: `00000000-0000-4000-9000-${String(i).padStart(12, '0')}`, resourceVersion: String(200000 + i), creationTimestamp: '2026-11-22T13:29:36Z', generation: 1 },
    spec: {
      targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: `route-${i}` }],
      retry: { numRetries: 2, retryOn: { triggers: ['connect-failure', 'retriable-status-codes'], httpStatusCodes: [500, 503] }, perRetry: { timeout: '20s' } },
    },
  }));
}

/** Envoy Gateway's proxy pods, as the API server returns them (the sidecar audit watches them). */
function proxyPods(count: number): KubeObject[] {
  return Array.from({ length: count }, (_, i) => {
    const gateway = `ai-gateway-${i % 50}`;
    const name = `envoy-team-${i % NAMESPACES}-${gateway}-5a1e3b2c`;
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${name}-7d9f8c6b5d-${String(i).padStart(5, '0')}`,
        namespace: 'envoy-gateway-system',
        uid: `00000000-0000-4000-a000-${String(i).padStart(12, '0')}`,
        resourceVersion: String(300000 + i),
        creationTimestamp: '2026-11-22T13:29:36Z',
        labels: {
          'app.kubernetes.io/component': 'proxy',
          'app.kubernetes.io/managed-by': 'envoy-gateway',
          'app.kubernetes.io/name': 'envoy',
          'gateway.envoyproxy.io/owning-gateway-name': gateway,
          'gateway.envoyproxy.io/owning-gateway-namespace': `team-${i % NAMESPACES}`,
          'pod-template-hash': '7d9f8c6b5d',
        },
        annotations: { 'prometheus.io/path': '/stats/prometheus', 'prometheus.io/port': '19001', 'prometheus.io/scrape': 'true' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name}-7d9f8c6b5d`, uid: 'rs-uid', controller: true, blockOwnerDeletion: true }],
      },
      spec: {
        containers: [
          {
            name: 'envoy',
            image: 'envoyproxy/envoy:distroless-v1.36.0',
            args: ['--service-cluster', gateway, '--service-node $(ENVOY_POD_NAME)', '--log-level warn'],
            ports: [{ name: 'http-80', containerPort: 10080, protocol: 'TCP' }, { name: 'metrics', containerPort: 19001, protocol: 'TCP' }],
            resources: { requests: { cpu: '100m', memory: '512Mi' } },
            volumeMounts: [{ name: 'certs', readOnly: true, mountPath: '/certs' }, { name: 'sds', mountPath: '/sds' }],
          },
          { name: 'shutdown-manager', image: 'envoyproxy/gateway:v1.6.0', args: ['envoy', 'shutdown-manager'] },
        ],
        volumes: [{ name: 'certs', secret: { secretName: 'envoy' } }, { name: 'sds', configMap: { name } }],
        nodeName: `node-${i % 20}`,
      },
    };
  });
}

/**
 * What the API server adds to every object and the policies never read: managedFields, kubectl's last-applied copy of
 * the object in an annotation, and a status. The cluster-mode figures use these, so the cache's RSS is that of real
 * objects.
 */
function asServed(o: KubeObject): KubeObject {
  const applied = JSON.stringify({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata?.name, namespace: o.metadata?.namespace }, spec: o.spec });
  const fields = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries([['.', {}], ...Object.keys(v).map((k) => [`f:${k}`, fields((v as Record<string, unknown>)[k])])]) : {};
  return {
    ...o,
    metadata: {
      ...o.metadata,
      annotations: { ...o.metadata?.annotations, 'kubectl.kubernetes.io/last-applied-configuration': `${applied}\n` },
      managedFields: [
        { manager: 'kubectl-client-side-apply', operation: 'Update', apiVersion: o.apiVersion, time: '2026-11-22T13:29:36Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:annotations': {} }, 'f:spec': fields(o.spec) } },
        { manager: 'envoy-gateway', operation: 'Update', apiVersion: o.apiVersion, time: '2026-11-22T13:29:37Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:status': { '.': {}, 'f:conditions': {} } }, subresource: 'status' },
      ],
    },
    status: {
      conditions: [
        { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Policy has been accepted.', lastTransitionTime: '2026-11-22T13:29:37Z', observedGeneration: 1 },
        { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'Resolved all the Object references.', lastTransitionTime: '2026-11-22T13:29:37Z', observedGeneration: 1 },
      ],
    },
  };
}

export interface FakeCounts {
  routes: number;
  patchPolicies: number;
  backendTrafficPolicies?: number;
  pods?: number;
  /** Objects with managedFields, a last-applied annotation and a status, as a real API server returns them. */
  served?: boolean;
}

function serveFake(counts: FakeCounts): void {
  const shape = (objects: KubeObject[]) => (counts.served ? objects.map(asServed) : objects);
  const stores = new Map<string, KubeObject[]>([
    ['aigatewayroutes', shape(routes(counts.routes))],
    ['envoypatchpolicies', shape(patchPolicies(counts.patchPolicies))],
    ['aiservicebackends', []],
    ['backendtrafficpolicies', shape(backendTrafficPolicies(counts.backendTrafficPolicies ?? 0))],
    ['backends', []],
    ['httproutes', []],
    ['pods', shape(proxyPods(counts.pods ?? 0))],
  ]);
  const api = fakeApi(stores);
  api.server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(api.server.address() as { port: number }).port}\n`));
  process.on('SIGTERM', () => {
    process.stdout.write(`requests ${api.requests()}\n`, () => process.exit(0));
    api.server.closeAllConnections();
  });
}

export async function runAudit(routeCount = 10_000, patchCount = 1_000): Promise<AuditFigures> {
  // As `aigw-admission audit` does (src/cli.ts), before the policies and the client are loaded.
  keepYoungGenerationSmall(process.execArgv, process.env.NODE_OPTIONS);
  const [{ KubeConfig }, { ALL_POLICIES }, { PolicySet }, { makePageLister }, { AUDIT_PAGE_SIZE, auditWorld, listCluster, listedWorld }] = await Promise.all([
    import('../src/kube/client.js'),
    import('../policies/index.js'),
    import('../src/review/policy-set.js'),
    import('../src/world/list-page.js'),
    import('../src/audit/audit.js'),
  ]);
  const api = await startFakeApi({ routes: routeCount, patchPolicies: patchCount });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${api.port}`, skipTLSVerify: true }],
    users: [{ name: 'bench' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'bench' }],
    currentContext: 'fake',
  });
  const startRssBytes = process.memoryUsage().rss;
  const started = performance.now();
  const listed = await listCluster(makePageLister(kc));
  const listedAt = performance.now();
  const listedPeakRssBytes = peakRss();
  // What `aigw-admission audit` does before it prints: the same world, the same audit, findings handed over one object
  // at a time (counted here; the CLI keeps them to print them).
  let findings = 0;
  auditWorld(listedWorld(listed, 33), { policies: new PolicySet(ALL_POLICIES), kubernetesMinor: 33, now: () => new Date() }, { finding: () => findings++, checked: () => undefined });
  const done = performance.now();
  const listRequests = await api.stop();
  return {
    routes: routeCount,
    patchPolicies: patchCount,
    pageSize: AUDIT_PAGE_SIZE,
    listSeconds: (listedAt - started) / 1000,
    evaluateSeconds: (done - listedAt) / 1000,
    totalSeconds: (done - started) / 1000,
    listRequests,
    findings,
    peakRssBytes: peakRss(),
    startRssBytes,
    listedPeakRssBytes,
  };
}

/**
 * Runs `aigw-admission audit -o json` as its own process against a fake API of the same size (stdout to /dev/null) and
 * reads its peak RSS from outside: VmHWM in /proc/<pid>/status is the process's high-water mark, so a poll at any
 * moment reads the peak so far, and the last poll before exit the peak of the run (growth in the last 20 ms alone
 * could be missed; at exit the process only frees). Node cannot read a child's getrusage, /usr/bin/time is not on every
 * CI runner, and a preload (--import) would measure a different process.
 */
export async function runCliAudit(routeCount = 10_000, patchCount = 1_000): Promise<Required<Pick<AuditFigures, 'cliSeconds' | 'cliPeakRssBytes'>>> {
  const api = await startFakeApi({ routes: routeCount, patchPolicies: patchCount });
  const dir = mkdtempSync(join(tmpdir(), 'aigw-bench-audit-'));
  const kubeconfig = join(dir, 'kubeconfig.yaml');
  writeFileSync(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters: [{name: fake, cluster: {server: "http://127.0.0.1:${api.port}", insecure-skip-tls-verify: true}}]\nusers: [{name: bench, user: {}}]\ncontexts: [{name: fake, context: {cluster: fake, user: bench}}]\ncurrent-context: fake\n`,
  );
  const devNull = openSync('/dev/null', 'w');
  try {
    const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
    const started = performance.now();
    const child = spawn(process.execPath, [cli, 'audit', '--kubeconfig', kubeconfig, '-o', 'json', '--fail-on', 'never'], { stdio: ['ignore', devNull, 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let peak: number | null = null;
    // No /proc (not Linux), or the process is gone: the figure stays what was read.
    const poll = () => {
      const hwm = procStatus(child.pid!, 'VmHWM');
      if (hwm !== undefined) peak = Math.max(peak ?? 0, hwm);
    };
    const timer = setInterval(poll, 20);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearInterval(timer);
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`aigw-admission audit exited with ${code}: ${stderr}`);
    return { cliSeconds: seconds, cliPeakRssBytes: peak };
  } finally {
    closeSync(devNull);
    rmSync(dir, { recursive: true, force: true });
    await api.stop();
  }
}

if (process.argv[2] === '--serve') {
  serveFake(JSON.parse(process.argv[3]!) as FakeCounts);
} else if (process.argv[1]?.endsWith('audit.js') && process.argv[2] === '--cli') {
  runCliAudit().then(
    (f) => process.stdout.write(`${JSON.stringify(f)}\n`),
    (err) => {
      process.stderr.write(`bench audit --cli: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
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
