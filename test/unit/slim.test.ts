import { describe, expect, it } from 'vitest';
import { StringTable, slimForCache } from '../../src/world/slim.js';

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

  it("keeps of a pod's spec only each container's name and image, in the list it is in", () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'envoy-1', namespace: 'envoy-gateway-system' },
      spec: {
        containers: [{ name: 'envoy', image: 'envoyproxy/envoy:distroless-v1.36.0', args: ['--log-level warn'], env: [{ name: 'A', value: 'b' }], ports: [{ containerPort: 10080 }] }],
        initContainers: [{ name: 'ai-gateway-extproc', image: 'docker.io/envoyproxy/ai-gateway-extproc:v1.1.0', restartPolicy: 'Always' }, { image: 'no-name:1' }, null],
        volumes: [{ name: 'certs', secret: { secretName: 'envoy' } }],
        nodeName: 'node-1',
      },
      status: { phase: 'Running' },
    };
    expect(slimForCache(pod)).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'envoy-1', namespace: 'envoy-gateway-system' },
      spec: {
        containers: [{ name: 'envoy', image: 'envoyproxy/envoy:distroless-v1.36.0' }],
        initContainers: [{ name: 'ai-gateway-extproc', image: 'docker.io/envoyproxy/ai-gateway-extproc:v1.1.0' }, { image: 'no-name:1' }],
      },
    });
    // A custom resource's spec is every policy's input: kept whole, whatever its kind is called.
    const other = { apiVersion: 'example.com/v1', kind: 'Pod', metadata: { name: 'x' }, spec: { containers: [{ name: 'a', args: ['b'] }], extra: 1 } };
    expect(slimForCache(structuredClone(other))).toEqual(other);
  });

  it('with a StringTable, stores each repeated value once and leaves the object equal to the one without', () => {
    const served = (i: number) => ({
      apiVersion: 'gateway.envoyproxy.io/v1alpha1',
      kind: 'BackendTrafficPolicy',
      metadata: { name: `retry-${i}`, namespace: 'team-a', uid: `uid-${i}`, resourceVersion: String(100 + i), creationTimestamp: `2026-11-22T13:29:3${i}Z`, labels: { team: 'a' } },
      spec: { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'chat' }], retry: { numRetries: 2, retryOn: { triggers: ['connect-failure'] } } },
    });
    const strings = new StringTable();
    const slimmed = [0, 1, 2].map((i) => slimForCache(served(i), strings));
    expect(slimmed).toEqual([0, 1, 2].map((i) => slimForCache(served(i))));
    // apiVersion, kind, namespace, label value, group, kind, route name, trigger: the names, uids, resourceVersions and
    // timestamps of each object are never looked up (they differ on every object).
    expect(strings.size).toBe(8);
  });
});

describe('StringTable', () => {
  it('never holds more than maxEntries strings: the one past it starts a new table', () => {
    const strings = new StringTable(3);
    for (const s of ['a', 'b', 'c', 'a']) strings.intern(s);
    expect(strings.size).toBe(3);
    expect(strings.intern('d')).toBe('d');
    expect(strings.size).toBe(1);
    for (let i = 0; i < 1000; i++) strings.intern(`value-${i}`);
    expect(strings.size).toBeLessThanOrEqual(3);
  });

  it('does not hold long strings, and interns every string inside nested objects and arrays', () => {
    const strings = new StringTable();
    const long = 'x'.repeat(129);
    expect(strings.intern(long)).toBe(long);
    expect(strings.size).toBe(0);
    const value = { a: ['one', { b: 'two', n: 1, t: true, z: null }], c: 'one' };
    expect(strings.internAll(value)).toEqual({ a: ['one', { b: 'two', n: 1, t: true, z: null }], c: 'one' });
    expect(strings.size).toBe(2);
  });
});
