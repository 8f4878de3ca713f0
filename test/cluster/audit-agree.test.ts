import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import type { ClusterWorld } from '../../src/world/cluster-world.js';
import { silentLogger } from '../../src/review/deps.js';
import { AUDITED_AT_ANNOTATION } from '../../src/audit/policy-report.js';
import type { KubeObject } from '../../src/kube/types.js';
import { route } from '../helpers.js';
import type { FakeApiServer } from './fake-apiserver.js';
import { FAST_RETRY, T0, fakeKubeconfig, patchPolicy, runCli } from './support.js';
import { auditCluster, proxyPod } from './audit-support.js';

const OPENREPORTS = 'openreports.io/v1alpha1';
let fake: FakeApiServer | undefined;
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  await fake?.cut().catch(() => undefined);
  fake = undefined;
});

/** A report without what differs between two writes of the same findings: resourceVersion and the run's time. */
/** serve in cluster mode against the fake, its background audit run only when the test calls it (or `schedule` fires). */
function serveAgainst(api: FakeApiServer, dir: string, configPath: string, schedule: (run: () => void) => () => void): Promise<RunningServer> {
  return startServer({
    host: '127.0.0.1',
    port: 0,
    tlsDir: join(dir, 'certs'),
    configPath,
    standalone: false,
    kubeConfig: api.kubeConfig(),
    logger: silentLogger,
    now: () => T0,
    cluster: { retry: FAST_RETRY },
    shutdownDelayMs: 0,
    audit: { schedule },
  });
}

function content(r: KubeObject) {
  const { resourceVersion: _rv, annotations, ...meta } = r.metadata as Record<string, unknown> & { annotations: Record<string, string> };
  const results = (r.results as Array<Record<string, unknown>>).map(({ timestamp: _t, ...rest }) => rest);
  return { ...r, metadata: { ...meta, annotations: Object.keys(annotations) }, results };
}

describe('one audit: `aigw-admission audit` and the background audit in serve agree', () => {
  it('find the same findings in the same order and write the same reports from the same cluster', async () => {
    fake = auditCluster();
    fake.install(OPENREPORTS, 'reports', 'Report');
    await fake.start();
    // The cluster serves the AIServiceBackend CRD but holds none: a backend reference is known not to resolve.
    fake.add(route([{ name: 'r0', streamIdleTimeout: '0s', backendRefs: [{ name: 'openai' }] }], 'chat', 'team-a'));
    fake.add(route([{ name: 'r0', backendRefs: [{ name: 'openai' }] }], 'embed', 'team-b'));
    fake.add(patchPolicy('broken', 'nope', 'team-a'));
    fake.add(proxyPod('envoy-team-a-ai-gateway-1a2b3c4d-5d8f9c7b6-x2k4q'));
    const dir = mkdtempSync(join(tmpdir(), 'aigw-audit-agree-'));
    const kubeconfig = fakeKubeconfig(dir, fake.port);
    const config = join(dir, 'config.yaml');
    writeFileSync(config, 'audit:\n  intervalSeconds: 120\n');

    const cli = await runCli(['audit', '--kubeconfig', kubeconfig, '--config', config, '-o', 'json', '--write-reports']);
    expect(cli.stderr.split('\n').filter((l) => !l.startsWith('note:'))).toEqual(['openreports.io/v1alpha1 Reports created in envoy-gateway-system, team-a, team-b', '']);
    const cliFindings = JSON.parse(cli.stdout) as Array<{ policy: string; resource: { kind: string; namespace: string; name: string } }>;
    const cliReports = fake.stored(OPENREPORTS, 'reports');
    // The findings that differed before: unresolved-backend with no AIServiceBackend in the cluster.
    expect(cliFindings.filter((f) => f.policy === 'unresolved-backend').map((f) => `${f.resource.namespace}/${f.resource.name}`)).toEqual(['team-a/chat', 'team-b/embed']);
    expect(cliReports.map((r) => [r.metadata!.namespace, r.metadata!.labels, Object.keys(r.metadata!.annotations ?? {}), r.source])).toEqual([
      ['envoy-gateway-system', { 'app.kubernetes.io/managed-by': 'aigw-admission' }, [AUDITED_AT_ANNOTATION], 'aigw-admission'],
      ['team-a', { 'app.kubernetes.io/managed-by': 'aigw-admission' }, [AUDITED_AT_ANNOTATION], 'aigw-admission'],
      ['team-b', { 'app.kubernetes.io/managed-by': 'aigw-admission' }, [AUDITED_AT_ANNOTATION], 'aigw-admission'],
    ]);

    let fire: (() => void) | undefined;
    server = await serveAgainst(fake, dir, config, (run) => ((fire = run), () => undefined));
    await (server.world as ClusterWorld).until((w) => w.ready() && w.list('/Pod').length === 1);
    const run = await server.audit!.runOnce();
    expect(fire).toBeDefined();
    expect(JSON.parse(JSON.stringify(run!.findings))).toEqual(cliFindings);
    expect(run!.reports).toMatchObject({ created: [], updated: ['envoy-gateway-system', 'team-a', 'team-b'], emptied: [] });
    const serveReports = fake.stored(OPENREPORTS, 'reports');
    expect(serveReports.map(content)).toEqual(cliReports.map(content));
    // The background run's reports carry its own time.
    expect(serveReports.map((r) => r.metadata!.annotations![AUDITED_AT_ANNOTATION])).toEqual([T0.toISOString(), T0.toISOString(), T0.toISOString()]);
    expect(fake.stored('wgpolicyk8s.io/v1alpha2', 'policyreports')).toEqual([]);
  });

  it('honour the exemption annotations: an annotated route is reported as skip, with its reason, by both', async () => {
    fake = auditCluster();
    await fake.start();
    const exempted = route([{ name: 'r0', backendRefs: [{ name: 'openai' }] }], 'exempt', 'team-c');
    exempted.metadata!.annotations = {
      'aigw-admission.io/skip': 'unresolved-backend',
      'aigw-admission.io/skip-reason': 'the backend is created by the platform team next week',
      // Dropped by the slimming on the way in (CLI) and in the cache (serve); the pair above is kept by both.
      'kubectl.kubernetes.io/last-applied-configuration': '{"kind":"AIGatewayRoute"}',
    };
    fake.add(exempted);
    fake.add(route([{ name: 'r0', backendRefs: [{ name: 'openai' }] }], 'plain', 'team-c'));
    const dir = mkdtempSync(join(tmpdir(), 'aigw-audit-skip-'));
    const config = join(dir, 'config.yaml');
    writeFileSync(config, 'audit:\n  intervalSeconds: 120\n');
    const expected = [
      { name: 'exempt', result: 'skip', exemption: 'aigw-admission.io/skip: the backend is created by the platform team next week' },
      { name: 'plain', result: undefined, exemption: undefined },
    ];
    const unresolved = (findings: Array<{ policy: string; result?: string; exemption?: string; resource: { name: string } }>) =>
      findings.filter((f) => f.policy === 'unresolved-backend').map((f) => ({ name: f.resource.name, result: f.result, exemption: f.exemption }));

    const cli = await runCli(['audit', '--kubeconfig', fakeKubeconfig(dir, fake.port), '--config', config, '-o', 'json']);
    expect(unresolved(JSON.parse(cli.stdout))).toEqual(expected);

    server = await serveAgainst(fake, dir, config, () => () => undefined);
    const world = server.world as ClusterWorld;
    await world.until((w) => w.ready() && w.list('aigateway.envoyproxy.io/AIGatewayRoute').length === 2);
    expect(Object.keys(world.get('aigateway.envoyproxy.io/AIGatewayRoute', 'team-c', 'exempt')!.metadata!.annotations!)).toEqual([
      'aigw-admission.io/skip',
      'aigw-admission.io/skip-reason',
    ]);
    const run = await server.audit!.runOnce();
    expect(unresolved(run!.findings)).toEqual(expected);
  });
});
