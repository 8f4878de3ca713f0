import { afterEach, describe, expect, it } from 'vitest';
import { auditWorld, listCluster } from '../../src/audit/audit.js';
import { auditSidecars } from '../../src/audit/sidecar-audit.js';
import { OPENREPORTS, WGPOLICY, buildReports, kubeReportClient, writeReports, type ReportClient } from '../../src/audit/policy-report.js';
import { makePageLister } from '../../src/world/list-page.js';
import { StringTable, slimForCache } from '../../src/world/slim.js';
import { MemoryWorld } from '../../src/world/world.js';
import { PolicySet } from '../../src/review/policy-set.js';
import { templateDigest } from '../../src/model/sidecar.js';
import injectPolicy from '../../policies/inject-extproc-sidecar.js';
import sidecarDrift from '../../policies/sidecar-drift.js';
import { route } from '../helpers.js';
import { FakeApiServer } from './fake-apiserver.js';
import { T0, fakeCluster, patchPolicy, recordingLogger, routeLookup } from './support.js';
import { REPORTS, TEMPLATE, auditCluster, proxyPod, proxyPodsOfEveryCase } from './audit-support.js';

let fake: FakeApiServer | undefined;
afterEach(async () => {
  await fake?.cut().catch(() => undefined);
  fake = undefined;
});

const RESTART = 'kubectl rollout restart deployment/envoy-team-a-ai-gateway-1a2b3c4d -n envoy-gateway-system';
const podRef = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', namespace: 'envoy-gateway-system', name });

describe('listCluster', () => {
  it('reads every kind in pages with continue tokens, proxy pods by label, and says which CRDs are missing', async () => {
    fake = auditCluster();
    await fake.start();
    for (let i = 0; i < 5; i++) fake.add(route([{ name: 'r0' }], `chat-${i}`));
    fake.add(proxyPod('envoy-1'));
    fake.add({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'unrelated', namespace: 'team-a' }, spec: { containers: [{ name: 'app', image: 'nginx' }] } });
    const listed = await listCluster(makePageLister(fake.kubeConfig()), { pageSize: 2 });

    const routeLists = fake.calls.filter((c) => c.kind === 'list' && c.path === '/apis/aigateway.envoyproxy.io/v1beta1/aigatewayroutes');
    expect(routeLists.map((c) => [c.query.limit, c.query.continue])).toEqual([
      ['2', undefined],
      ['2', '2'],
      ['2', '4'],
    ]);
    expect(listed.stores.get('aigateway.envoyproxy.io/AIGatewayRoute')!.list().map((r) => r.metadata!.name)).toEqual(['chat-0', 'chat-1', 'chat-2', 'chat-3', 'chat-4']);
    const podLists = fake.calls.filter((c) => c.kind === 'list' && c.path === '/api/v1/pods');
    expect(podLists.map((c) => c.query.labelSelector)).toEqual(['app.kubernetes.io/managed-by=envoy-gateway']);
    const pods = listed.stores.get('/Pod')!.list();
    expect(pods.map((p) => [p.apiVersion, p.kind, p.metadata!.name])).toEqual([['v1', 'Pod', 'envoy-1']]);
    expect(listed.notInstalled).toEqual(['gateway.envoyproxy.io/Backend', 'gateway.networking.k8s.io/HTTPRoute']);
  });

  it('keeps each object as the cache does (slimForCache) and indexed by namespace and name, never the page', async () => {
    fake = auditCluster();
    await fake.start();
    const served = route([{ name: 'r0' }], 'chat', 'team-a');
    served.metadata = {
      ...served.metadata,
      annotations: { 'aigw-admission.io/skip': 'unresolved-backend', 'aigw-admission.io/skip-reason': 'later', 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
      managedFields: [{ manager: 'kubectl', operation: 'Update' }],
    };
    fake.add({ ...served, status: { conditions: [] } });
    const listed = await listCluster(makePageLister(fake.kubeConfig()));
    const kept = listed.stores.get('aigateway.envoyproxy.io/AIGatewayRoute')!.get('team-a', 'chat')!;
    expect([kept.metadata!.annotations, kept.metadata!.managedFields, (kept as { status?: unknown }).status, kept.spec]).toEqual([
      { 'aigw-admission.io/skip': 'unresolved-backend', 'aigw-admission.io/skip-reason': 'later' },
      undefined,
      undefined,
      served.spec,
    ]);
  });

  it('asks for 100 per page by default and follows the continue token to the end', async () => {
    fake = auditCluster();
    await fake.start();
    for (let i = 0; i < 201; i++) fake.add(route([{ name: 'r0' }], `chat-${String(i).padStart(3, '0')}`));
    const listed = await listCluster(makePageLister(fake.kubeConfig()));
    const routeLists = fake.calls.filter((c) => c.kind === 'list' && c.path.endsWith('/aigatewayroutes'));
    expect(routeLists.map((c) => [c.query.limit, c.query.continue])).toEqual([
      ['100', undefined],
      ['100', '100'],
      ['100', '200'],
    ]);
    const names = listed.stores.get('aigateway.envoyproxy.io/AIGatewayRoute')!.list().map((r) => r.metadata!.name);
    expect([names.length, new Set(names).size, names[0], names[200]]).toEqual([201, 201, 'chat-000', 'chat-200']);
  });

  it('with a namespace lists that namespace and the proxy pods of its Gateways wherever they run', async () => {
    fake = auditCluster();
    await fake.start();
    fake.add(route([{ name: 'r0' }], 'chat', 'team-a'));
    fake.add(route([{ name: 'r0' }], 'chat', 'team-b'));
    fake.add(proxyPod('envoy-1'));
    const listed = await listCluster(makePageLister(fake.kubeConfig()), { namespace: 'team-a' });
    expect(listed.stores.get('aigateway.envoyproxy.io/AIGatewayRoute')!.list().map((r) => r.metadata!.namespace)).toEqual(['team-a']);
    expect(fake.calls.filter((c) => c.kind === 'list' && c.path.endsWith('/aigatewayroutes')).map((c) => c.path)).toEqual([
      '/apis/aigateway.envoyproxy.io/v1beta1/namespaces/team-a/aigatewayroutes',
    ]);
    expect(fake.calls.filter((c) => c.kind === 'list' && c.path === '/api/v1/pods').map((c) => c.query.labelSelector)).toEqual([
      'app.kubernetes.io/managed-by=envoy-gateway,gateway.envoyproxy.io/owning-gateway-namespace=team-a',
    ]);
    expect(listed.stores.get('/Pod')!.list().map((p) => p.metadata!.name)).toEqual(['envoy-1']);
  });
});

describe('auditSidecars', () => {
  const world = new MemoryWorld([route([{ name: 'r0' }], 'chat', 'team-a')], { kubernetesMinor: 33 });
  const gateway = { name: 'ai-gateway', namespace: 'team-a' };

  it('reports a missing sidecar and a drifted one with the fix; skips current, opted-out and route-less proxies', () => {
    const pods = proxyPodsOfEveryCase();
    const result = auditSidecars(pods, world, { template: TEMPLATE, kubernetesMinor: 33 });
    const old = templateDigest({ ...TEMPLATE, image: 'docker.io/envoyproxy/ai-gateway-extproc:v1.0.0' }, 'initContainers', gateway);
    const now = templateDigest(TEMPLATE, 'initContainers', gateway);
    expect(old).not.toBe(now);
    expect(result.findings).toEqual([
      {
        policy: 'sidecar-drift',
        mode: 'warn',
        resource: podRef('missing'),
        path: 'spec.initContainers',
        message: `no ai-gateway-extproc sidecar, but AIGatewayRoutes name Gateway team-a/ai-gateway: every AI request through this proxy fails (the pod was created without the webhook, e.g. before it was installed or while it was down); restart the Gateway's proxies so the webhook injects the current one: ${RESTART}`,
      },
      {
        policy: 'sidecar-drift',
        mode: 'warn',
        resource: podRef('drifted'),
        path: 'metadata.annotations["aigw-admission.io/injected"]',
        message: `ai-gateway-extproc was injected from template ${old}, the current config injects ${now} (image docker.io/envoyproxy/ai-gateway-extproc:v1.0.0 → docker.io/envoyproxy/ai-gateway-extproc:v1.1.0); restart the Gateway's proxies so the webhook injects the current one: ${RESTART}`,
      },
      {
        policy: 'sidecar-drift',
        mode: 'warn',
        resource: podRef('foreign'),
        path: 'spec.initContainers',
        message: `ai-gateway-extproc runs example.com/extproc:dev (not injected by aigw-admission: no aigw-admission.io/injected annotation), the config injects docker.io/envoyproxy/ai-gateway-extproc:v1.1.0; restart the Gateway's proxies so the webhook injects the current one: ${RESTART}`,
      },
    ]);
    expect(result.checked.map((p) => p.metadata!.name)).toEqual(['missing', 'drifted', 'current', 'foreign']);
  });

  it('finds the same in the pods as the cache keeps them (slimForCache) as in the pods as served', () => {
    const served = () => proxyPodsOfEveryCase().map((p) => ({ ...p, spec: { ...(p.spec as object), volumes: [{ name: 'certs', secret: { secretName: 'envoy' } }], nodeName: 'node-1' }, status: { phase: 'Running' } }));
    const strings = new StringTable();
    for (const kubernetesMinor of [32, 33]) {
      const fromServed = auditSidecars(served(), world, { template: TEMPLATE, kubernetesMinor });
      const fromCache = auditSidecars(served().map((p) => slimForCache(p, strings)), world, { template: TEMPLATE, kubernetesMinor });
      expect(fromCache.findings).toEqual(fromServed.findings);
      expect(fromCache.findings.length).toBe(kubernetesMinor === 33 ? 3 : 4);
      expect(fromCache.checked.map((p) => p.metadata!.name)).toEqual(fromServed.checked.map((p) => p.metadata!.name));
    }
  });

  it('calls a sidecar placed for an older Kubernetes drift once the cluster supports native sidecars', () => {
    const pod = proxyPod('current', { sidecar: 'current' });
    const result = auditSidecars([pod], world, { template: TEMPLATE, kubernetesMinor: 32 });
    expect(result.findings.map((f) => f.message.split(';')[0])).toEqual([
      `ai-gateway-extproc was injected from template ${templateDigest(TEMPLATE, 'initContainers', gateway)}, the current config injects ${templateDigest(TEMPLATE, 'containers', gateway)} (placement spec.initContainers → spec.containers)`,
    ]);
  });
});

describe('PolicyReports', () => {
  const policies = new PolicySet([routeLookup, injectPolicy, sidecarDrift], { 'test-route-lookup': { mode: 'deny' } });
  const objects = [route([{ name: 'r0' }], 'chat', 'team-a'), patchPolicy('ok', 'chat', 'team-a'), patchPolicy('broken', 'nope', 'team-b')];

  it('one report per namespace: created once, then replaced in place (PUT with the read resourceVersion), emptied when nothing is left', async () => {
    fake = auditCluster();
    await fake.start();
    const pods = [proxyPod('missing')];
    const result = auditWorld(new MemoryWorld([...objects, ...pods], { kubernetesMinor: 33 }), { policies, kubernetesMinor: 33, now: () => T0 });
    const client = kubeReportClient(fake.kubeConfig());

    const first = await writeReports(client, buildReports(result.findings, result.checked, T0));
    expect(first).toEqual({ api: WGPOLICY, created: ['envoy-gateway-system', 'team-a', 'team-b'], updated: [], emptied: [] });
    const stored = fake.stored(REPORTS, 'policyreports');
    expect(stored.map((r) => `${r.metadata!.namespace}/${r.metadata!.name}`)).toEqual([
      'envoy-gateway-system/aigw-admission',
      'team-a/aigw-admission',
      'team-b/aigw-admission',
    ]);
    const teamB = stored[2]!;
    expect({ apiVersion: teamB.apiVersion, kind: teamB.kind, labels: teamB.metadata!.labels, annotations: teamB.metadata!.annotations, summary: teamB.summary, results: teamB.results }).toEqual({
      apiVersion: 'wgpolicyk8s.io/v1alpha2',
      kind: 'PolicyReport',
      labels: { 'app.kubernetes.io/managed-by': 'aigw-admission' },
      annotations: { 'aigw-admission.io/audited-at': '2026-11-23T12:00:00.000Z' },
      summary: { pass: 0, fail: 1, warn: 0, error: 0, skip: 0 },
      results: [
        {
          source: 'aigw-admission',
          policy: 'test-route-lookup',
          result: 'fail',
          message: 'no AIGatewayRoute team-b/nope',
          properties: { mode: 'deny', path: 'spec.targetRouteName' },
          resources: [{ apiVersion: 'gateway.envoyproxy.io/v1alpha1', kind: 'EnvoyPatchPolicy', namespace: 'team-b', name: 'broken' }],
          timestamp: { seconds: T0.getTime() / 1000, nanos: 0 },
        },
      ],
    });
    expect(stored[1]!.summary).toEqual({ pass: 2, fail: 0, warn: 0, error: 0, skip: 0 });
    expect((stored[1]!.results as { result: string; resources: { kind: string; name: string }[] }[]).map((r) => [r.result, r.resources[0]!.kind, r.resources[0]!.name])).toEqual([
      ['pass', 'AIGatewayRoute', 'chat'],
      ['pass', 'EnvoyPatchPolicy', 'ok'],
    ]);
    expect(stored[0]!.summary).toEqual({ pass: 0, fail: 0, warn: 1, error: 0, skip: 0 });
    expect(fake.count('create')).toBe(3);

    // Second run: the same reports are read and replaced, never created again.
    const second = await writeReports(client, buildReports(result.findings, result.checked, T0));
    expect(second).toEqual({ api: WGPOLICY, created: [], updated: ['envoy-gateway-system', 'team-a', 'team-b'], emptied: [] });
    expect(fake.count('create')).toBe(3);
    const puts = fake.calls.filter((c) => c.kind === 'update');
    expect(puts.map((c) => [c.method, c.path, c.status])).toEqual([
      ['PUT', '/apis/wgpolicyk8s.io/v1alpha2/namespaces/envoy-gateway-system/policyreports/aigw-admission', 200],
      ['PUT', '/apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports/aigw-admission', 200],
      ['PUT', '/apis/wgpolicyk8s.io/v1alpha2/namespaces/team-b/policyreports/aigw-admission', 200],
    ]);
    expect(fake.stored(REPORTS, 'policyreports')).toHaveLength(3);

    // team-b's object is gone: its report is emptied, not left stale and not deleted.
    const later = auditWorld(new MemoryWorld([...objects.slice(0, 2), ...pods], { kubernetesMinor: 33 }), { policies, kubernetesMinor: 33, now: () => T0 });
    const third = await writeReports(client, buildReports(later.findings, later.checked, T0), { at: T0 });
    expect(third).toEqual({ api: WGPOLICY, created: [], updated: ['envoy-gateway-system', 'team-a'], emptied: ['team-b'] });
    const emptied = fake.stored(REPORTS, 'policyreports')[2]!;
    expect([emptied.summary, emptied.results]).toEqual([{ pass: 0, fail: 0, warn: 0, error: 0, skip: 0 }, []]);
    expect(fake.stored(REPORTS, 'policyreports')).toHaveLength(3);
  });

  it('a namespaced audit writes only its namespace\'s report', async () => {
    fake = auditCluster();
    await fake.start();
    const client = kubeReportClient(fake.kubeConfig());
    await writeReports(client, buildReports([], [objects[0]!, objects[2]!], T0));
    const before = fake.stored(REPORTS, 'policyreports').map((r) => r.metadata!.resourceVersion);
    const summary = await writeReports(client, buildReports([], [objects[0]!, proxyPod('envoy-1')], T0), { namespace: 'team-a' });
    expect(summary).toEqual({ api: WGPOLICY, created: [], updated: ['team-a'], emptied: [] });
    const after = fake.stored(REPORTS, 'policyreports');
    expect(after.map((r) => r.metadata!.namespace)).toEqual(['team-a', 'team-b']);
    expect(after[1]!.metadata!.resourceVersion).toBe(before[1]);
    // The first call looks for openreports.io (not served here), then wgpolicyk8s.io; the client remembers the answer.
    expect(fake.calls.filter((c) => c.kind === 'list' && c.path.includes('reports')).map((c) => c.path)).toEqual([
      '/apis/openreports.io/v1alpha1/reports',
      '/apis/wgpolicyk8s.io/v1alpha2/policyreports',
      '/apis/wgpolicyk8s.io/v1alpha2/policyreports',
      '/apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports',
    ]);
  });

  it('re-reads and retries when someone else wrote the report in between (409)', async () => {
    fake = auditCluster();
    await fake.start();
    const real = kubeReportClient(fake.kubeConfig());
    await writeReports(real, buildReports([], [objects[0]!], T0));
    let interfered = false;
    const racing: ReportClient = {
      ...real,
      async replace(report) {
        if (!interfered) {
          interfered = true;
          const current = fake!.stored(REPORTS, 'policyreports')[0]!;
          fake!.modify({ ...current, metadata: { ...current.metadata, annotations: { touched: 'yes' } } });
        }
        return real.replace(report);
      },
    };
    const summary = await writeReports(racing, buildReports([], [objects[0]!], T0));
    expect(summary.updated).toEqual(['team-a']);
    expect(fake.calls.filter((c) => c.kind === 'update').map((c) => c.status)).toEqual([409, 200]);
    expect(fake.stored(REPORTS, 'policyreports')).toHaveLength(1);
  });

  it('writes the report API the cluster serves: openreports.io first, wgpolicyk8s.io when chosen, and names the overlay when none is', async () => {
    fake = auditCluster();
    fake.install('openreports.io/v1alpha1', 'reports', 'Report');
    await fake.start();
    const logger = recordingLogger();
    expect(await kubeReportClient(fake.kubeConfig(), 'auto', logger).api()).toEqual(OPENREPORTS);
    expect(logger.events('report_api').map((l) => [l.obj, l.msg])).toEqual([
      [{ event: 'report_api', apiVersion: 'openreports.io/v1alpha1', kind: 'Report', choice: 'auto' }, 'writing openreports.io/v1alpha1 Reports (audit.reports: auto)'],
    ]);
    expect(await kubeReportClient(fake.kubeConfig(), 'wgpolicyk8s.io').api()).toEqual(WGPOLICY);
    await fake.cut();

    fake = fakeCluster();
    await fake.start();
    await expect(kubeReportClient(fake.kubeConfig()).api()).rejects.toThrow(
      'cluster request failed: the cluster serves neither openreports.io/v1alpha1 reports nor wgpolicyk8s.io/v1alpha2 policyreports: install the report CRDs with kubectl apply -k deploy/overlays/report-crds (or set audit.reports in the config to an API the cluster serves)',
    );
    await expect(kubeReportClient(fake.kubeConfig(), 'openreports.io').api()).rejects.toThrow('the cluster serves no openreports.io/v1alpha1 reports: install');
  });
});
