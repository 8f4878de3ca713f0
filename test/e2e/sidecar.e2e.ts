import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { getJson, kubectl, kubectlOk, rig, routeJson, scenarioNamespace, waitFor } from './rig.js';

interface Pod {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { containers: Array<{ name: string; image: string }>; initContainers?: Array<{ name: string }> };
}

describe('the ext_proc sidecar injected into an Envoy proxy pod', () => {
  it('a proxy pod of a Gateway an AIGatewayRoute names is stored with the sidecar (a regular container on 1.32: native sidecars need 1.33)', async () => {
    const gatewayNs = scenarioNamespace('gw');
    const proxyNs = scenarioNamespace('proxies');
    kubectlOk(['apply', '-f', '-'], { input: routeJson(gatewayNs, 'chat', [{ backendRefs: [{ name: 'openai' }] }]) });
    const pod = parse(readFileSync(join(rig().root, 'test/fixtures/pods/envoy-proxy-pod.yaml'), 'utf8')) as Record<string, any>;
    pod.metadata.namespace = proxyNs;
    pod.metadata.labels['gateway.envoyproxy.io/owning-gateway-namespace'] = gatewayNs;
    delete pod.metadata.ownerReferences; // no ReplicaSet here to own it
    pod.spec.serviceAccountName = 'default';

    // The webhook injects only for Gateways it has seen a route for (through its watch): create until it has.
    const created = await waitFor('a pod created with the sidecar', () => {
      const name = kubectlOk(['create', '-f', '-', '-o', 'jsonpath={.metadata.name}'], { input: JSON.stringify(pod) });
      const stored = getJson<Pod>(['-n', proxyNs, 'pod', name]);
      if (stored.spec.containers.some((c) => c.name === 'ai-gateway-extproc')) return stored;
      kubectl(['-n', proxyNs, 'delete', 'pod', name, '--wait=false']);
      return undefined;
    });
    expect(created.spec.containers.map((c) => c.name)).toEqual(['envoy', 'shutdown-manager', 'ai-gateway-extproc']);
    expect(created.spec.initContainers ?? []).toEqual([]);
    const record = JSON.parse(created.metadata.annotations!['aigw-admission.io/injected']!) as Record<string, string>;
    expect({ ...record, template: undefined }).toEqual({
      container: 'ai-gateway-extproc',
      placement: 'containers',
      image: created.spec.containers[2]!.image,
      gateway: `${gatewayNs}/ai-gateway`,
      template: undefined,
    });
  });
});
