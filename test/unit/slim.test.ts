import { describe, expect, it } from 'vitest';
import { slimForCache } from '../../src/world/slim.js';

describe('slimForCache', () => {
  it('drops managedFields, status and the annotations nothing reads; keeps spec, labels, owners and the read annotations', () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'envoy-1',
        namespace: 'envoy-gateway-system',
        uid: 'u1',
        resourceVersion: '7',
        creationTimestamp: '2026-11-22T13:29:36Z',
        labels: { 'pod-template-hash': 'abc' },
        ownerReferences: [{ kind: 'ReplicaSet', name: 'envoy-abc' }],
        annotations: { 'aigw-admission.io/injected': 'sha256:1', 'prometheus.io/scrape': 'true', 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
        managedFields: [{ manager: 'kube-controller-manager' }],
      },
      spec: { containers: [{ name: 'envoy' }] },
      status: { phase: 'Running' },
    };
    expect(slimForCache(structuredClone(pod))).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'envoy-1',
        namespace: 'envoy-gateway-system',
        uid: 'u1',
        resourceVersion: '7',
        creationTimestamp: '2026-11-22T13:29:36Z',
        labels: { 'pod-template-hash': 'abc' },
        ownerReferences: [{ kind: 'ReplicaSet', name: 'envoy-abc' }],
        annotations: { 'aigw-admission.io/injected': 'sha256:1' },
      },
      spec: { containers: [{ name: 'envoy' }] },
    });
    expect(slimForCache({ kind: 'X', metadata: { name: 'a', annotations: { other: '1' } } })).toEqual({ kind: 'X', metadata: { name: 'a' } });
  });

  it('keeps the exemption annotations, which the background audit honours from the cache', () => {
    const route = {
      kind: 'AIGatewayRoute',
      metadata: {
        name: 'chat',
        annotations: {
          'aigw-admission.io/skip': 'fallover-retry-missing',
          'aigw-admission.io/skip-reason': 'retries come from the client',
          'kubectl.kubernetes.io/last-applied-configuration': '{}',
        },
      },
    };
    expect(slimForCache(route)).toEqual({
      kind: 'AIGatewayRoute',
      metadata: {
        name: 'chat',
        annotations: { 'aigw-admission.io/skip': 'fallover-retry-missing', 'aigw-admission.io/skip-reason': 'retries come from the client' },
      },
    });
  });
});
