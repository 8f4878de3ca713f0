import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { kubectl, kubectlOk, rig, routeJson, scenarioNamespace, waitFor } from './rig.js';

/**
 * Issue 21 item 1: applying deploy/ as a user would, before any pod of it is ready (this API server has no kubelet,
 * so none ever is), refuses no AI Gateway write and no Envoy proxy pod. The webhook configurations this run's `serve`
 * is registered with are taken away for the scenario and put back after it; deploy/'s two configurations are applied
 * under another name, so that the running (ready) `serve` does not raise them: everything else is applied as rendered.
 */
const INSTALLED = 'aigw-admission-install-check';

describe('install safety: deploy/ with no ready pod refuses nothing', () => {
  const saved: string[] = [];

  afterAll(() => {
    kubectl(['delete', '--ignore-not-found', 'validatingwebhookconfiguration,mutatingwebhookconfiguration', INSTALLED]);
    for (const s of saved) kubectl(['create', '-f', '-'], { input: s });
  });

  it('kubectl kustomize deploy/ applied: a route the webhook would refuse and a proxy pod are both admitted, the entries stay Ignore', async () => {
    for (const kind of ['validatingwebhookconfiguration', 'mutatingwebhookconfiguration']) {
      const live = JSON.parse(kubectlOk(['get', kind, 'aigw-admission', '-o', 'json'])) as { metadata: { name: string; labels?: unknown } };
      saved.push(JSON.stringify({ ...live, metadata: { name: live.metadata.name, ...(live.metadata.labels ? { labels: live.metadata.labels } : {}) } }));
      kubectlOk(['delete', kind, 'aigw-admission']);
    }

    const rendered = kubectlOk(['kustomize', `${rig().root}/deploy`]);
    const objects = parseAllDocuments(rendered).map((d) => d.toJS() as { kind: string; metadata: { name: string } });
    for (const o of objects) if (o.kind.endsWith('WebhookConfiguration')) o.metadata.name = INSTALLED;
    const applied = kubectl(['apply', '-f', '-'], { input: objects.map((o) => JSON.stringify(o)).join('\n') });
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    const policies = JSON.parse(kubectlOk(['get', 'validatingwebhookconfiguration,mutatingwebhookconfiguration', INSTALLED, '-o', 'json'])) as {
      items: Array<{ webhooks: Array<{ name: string; failurePolicy: string }> }>;
    };
    expect(policies.items.flatMap((c) => c.webhooks.map((w) => `${w.name}=${w.failurePolicy}`)).every((p) => p.endsWith('=Ignore'))).toBe(true);

    // The webhook's Service has no ready pod behind it: every call fails, and Ignore admits.
    const ns = scenarioNamespace('install');
    const route = routeJson(ns, 'chat', [{ name: 'chat', streamIdleTimeout: '90s', backendRefs: [{ name: 'openai' }] }]);
    const created = await waitFor('the API server to use the installed configurations', () => {
      const r = kubectl(['apply', '-f', '-'], { input: route });
      return r.code === 0 ? r : undefined;
    });
    expect(created.stdout).toContain('aigatewayroute.aigateway.envoyproxy.io/chat created');
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'envoy-proxy',
        namespace: ns,
        labels: { 'app.kubernetes.io/managed-by': 'envoy-gateway', 'gateway.envoyproxy.io/owning-gateway-name': 'ai-gateway', 'gateway.envoyproxy.io/owning-gateway-namespace': ns },
      },
      spec: { containers: [{ name: 'envoy', image: 'envoyproxy/envoy:distroless-v1.35.0' }] },
    };
    const podRun = kubectl(['apply', '-f', '-'], { input: JSON.stringify(pod) });
    expect(podRun.code).toBe(0);
    expect(podRun.stdout).toContain('pod/envoy-proxy created');
    // Admitted unchecked: no default was written, no sidecar injected (nobody answered).
    const stored = JSON.parse(kubectlOk(['-n', ns, 'get', 'aigatewayroute', 'chat', '-o', 'json'])) as { spec: { rules: Array<{ timeouts?: unknown }> } };
    expect(stored.spec.rules[0]!.timeouts).toBeUndefined();
    const storedPod = JSON.parse(kubectlOk(['-n', ns, 'get', 'pod', 'envoy-proxy', '-o', 'json'])) as { spec: { containers: Array<{ name: string }> } };
    expect(storedPod.spec.containers.map((c) => c.name)).toEqual(['envoy']);
  });
});
