import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_POLICIES } from '../../policies/index.js';
import { route } from '../helpers.js';
import type { FakeApiServer } from './fake-apiserver.js';
import { REPORTS, auditCluster, proxyPod } from './audit-support.js';
import { fakeKubeconfig, runCli, spawnCli } from './support.js';

let fake: FakeApiServer | undefined;
afterEach(async () => {
  await fake?.cut().catch(() => undefined);
  fake = undefined;
});

describe('aigw-admission audit (against a fake API server)', () => {
  it('prints the findings of the cluster, exits 1 on a deny finding, and writes one PolicyReport per namespace, in place on rerun', async () => {
    fake = auditCluster();
    await fake.start();
    fake.add(route([{ name: 'r0', streamIdleTimeout: '0s' }], 'chat', 'team-a'));
    fake.add(proxyPod('envoy-team-a-ai-gateway-1a2b3c4d-5d8f9c7b6-x2k4q'));
    const dir = mkdtempSync(join(tmpdir(), 'aigw-audit-cli-'));
    const kubeconfig = fakeKubeconfig(dir, fake.port);
    // Only two policies, so the expected findings stay exact.
    const config = join(dir, 'config.yaml');
    const keep = new Set(['stream-idle-zero', 'inject-extproc-sidecar', 'sidecar-drift']);
    writeFileSync(
      config,
      `policies:\n${ALL_POLICIES.filter((p) => !keep.has(p.id)).map((p) => `  ${p.id}: {enabled: false}\n`).join('')}  stream-idle-zero: {mode: deny}\n`,
    );

    const json = await runCli(['audit', '--kubeconfig', kubeconfig, '--config', config, '-o', 'json', '--write-reports']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual([
      {
        policy: 'stream-idle-zero',
        mode: 'deny',
        resource: { apiVersion: 'aigateway.envoyproxy.io/v1beta1', kind: 'AIGatewayRoute', namespace: 'team-a', name: 'chat' },
        path: 'spec.rules[0].streamIdleTimeout',
        message:
          'spec.rules[0] ("r0"): streamIdleTimeout 0s disables the idle timeout, so a model that stops sending is cut by only the 1m0s request bound and never failed over. Fix: set a positive streamIdleTimeout below 1m0s (e.g. 30s for a first-token budget), or remove the field.',
      },
      {
        policy: 'sidecar-drift',
        mode: 'warn',
        resource: { apiVersion: 'v1', kind: 'Pod', namespace: 'envoy-gateway-system', name: 'envoy-team-a-ai-gateway-1a2b3c4d-5d8f9c7b6-x2k4q' },
        path: 'spec.initContainers',
        message:
          "no ai-gateway-extproc sidecar, but AIGatewayRoutes name Gateway team-a/ai-gateway: every AI request through this proxy fails (the pod was created without the webhook, e.g. before it was installed or while it was down); restart the Gateway's proxies so the webhook injects the current one: kubectl rollout restart deployment/envoy-team-a-ai-gateway-1a2b3c4d -n envoy-gateway-system",
      },
    ]);
    // Not a terminal: no progress line, only the notes and what was written.
    expect(json.stderr).toBe(
      [
        'note: gateway.envoyproxy.io/Backend is not installed in the cluster (its CRD is missing): nothing of it was checked',
        'note: gateway.networking.k8s.io/HTTPRoute is not installed in the cluster (its CRD is missing): nothing of it was checked',
        'wgpolicyk8s.io/v1alpha2 PolicyReports created in envoy-gateway-system, team-a',
        '',
      ].join('\n'),
    );
    expect(fake.stored(REPORTS, 'policyreports').map((r) => [r.metadata!.namespace, r.summary])).toEqual([
      ['envoy-gateway-system', { pass: 0, fail: 0, warn: 1, error: 0, skip: 0 }],
      ['team-a', { pass: 0, fail: 1, warn: 0, error: 0, skip: 0 }],
    ]);

    const table = await runCli(['audit', '--kubeconfig', kubeconfig, '--config', config, '--write-reports']);
    expect(table.code).toBe(1);
    // Columns are padded to the widest cell and three spaces apart; the message (last) is checked in the JSON above.
    expect(table.stdout.split('\n').map((l) => l.split(/ {3,}/).slice(0, 5))).toEqual([
      ['MODE', 'KIND', 'NAMESPACE/NAME', 'POLICY', 'PATH'],
      ['deny', 'AIGatewayRoute', 'team-a/chat', 'stream-idle-zero', 'spec.rules[0].streamIdleTimeout'],
      ['warn', 'Pod', 'envoy-gateway-system/envoy-team-a-ai-gateway-1a2b3c4d-5d8f9c7b6-x2k4q', 'sidecar-drift', 'spec.initContainers'],
      [''],
    ]);
    expect(table.stderr.split('\n').slice(2)).toEqual(['2 findings (1 deny, 1 warn) in 2 objects', 'wgpolicyk8s.io/v1alpha2 PolicyReports updated in envoy-gateway-system, team-a', '']);
    expect(fake.count('create')).toBe(2);
    expect(fake.count('update')).toBe(2);
    expect(fake.stored(REPORTS, 'policyreports')).toHaveLength(2);
  });

  it('exits 2 and says so when the cluster cannot be reached', async () => {
    fake = auditCluster();
    await fake.start();
    const dir = mkdtempSync(join(tmpdir(), 'aigw-audit-cli-'));
    const kubeconfig = fakeKubeconfig(dir, fake.port);
    await fake.cut();
    const out = await runCli(['audit', '--kubeconfig', kubeconfig]);
    expect([out.code, out.stdout, out.stderr]).toEqual([2, '', `aigw-admission: no cluster: cannot reach http://127.0.0.1:${fake.port}: ECONNREFUSED\n`]);
  });

  it('exits 2 without a cluster at all', async () => {
    // A real process: the exit code itself.
    const out = await spawnCli(['audit'], { HOME: mkdtempSync(join(tmpdir(), 'aigw-audit-home-')) });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('no Kubernetes cluster found: pass --kubeconfig FILE, set KUBECONFIG, or run in a pod');
  });
});
