import type { KubeObject } from '../../src/kube/types.js';
import { injectedAnnotationValue, type SidecarTemplate } from '../../src/model/sidecar.js';
import { fakeCluster } from './support.js';
import type { FakeApiServer } from './fake-apiserver.js';

export const REPORTS = 'wgpolicyk8s.io/v1alpha2';

/** fakeCluster() with the PolicyReport CRD (what Kyverno or the wg-policy prototypes install). */
export function auditCluster(): FakeApiServer {
  const fake = fakeCluster();
  fake.install(REPORTS, 'policyreports', 'PolicyReport');
  return fake;
}

export const TEMPLATE: SidecarTemplate = {
  image: 'docker.io/envoyproxy/ai-gateway-extproc:v1.1.0',
  imagePullPolicy: 'IfNotPresent',
  logLevel: 'info',
  resources: {},
  env: {},
};

/** An Envoy Gateway proxy pod of Gateway team-a/<gateway>, as its Deployment `envoy-team-a-<gateway>-1a2b3c4d` makes it. */
export function proxyPod(name: string, opts: { gateway?: string; sidecar?: 'current' | 'old-image' | 'foreign'; annotations?: Record<string, string> } = {}): KubeObject {
  const gateway = opts.gateway ?? 'ai-gateway';
  const deployment = `envoy-team-a-${gateway}-1a2b3c4d`;
  const annotations: Record<string, string> = { ...opts.annotations };
  const initContainers: Record<string, unknown>[] = [];
  const gw = { name: gateway, namespace: 'team-a' };
  if (opts.sidecar === 'current' || opts.sidecar === 'old-image') {
    const template = opts.sidecar === 'current' ? TEMPLATE : { ...TEMPLATE, image: 'docker.io/envoyproxy/ai-gateway-extproc:v1.0.0' };
    annotations['aigw-admission.io/injected'] = injectedAnnotationValue(template, 'initContainers', gw);
    initContainers.push({ name: 'ai-gateway-extproc', image: template.image, restartPolicy: 'Always' });
  } else if (opts.sidecar === 'foreign') {
    initContainers.push({ name: 'ai-gateway-extproc', image: 'example.com/extproc:dev', restartPolicy: 'Always' });
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'envoy-gateway-system',
      labels: {
        'app.kubernetes.io/managed-by': 'envoy-gateway',
        'gateway.envoyproxy.io/owning-gateway-name': gateway,
        'gateway.envoyproxy.io/owning-gateway-namespace': 'team-a',
        'pod-template-hash': '5d8f9c7b6',
      },
      annotations,
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${deployment}-5d8f9c7b6`, uid: 'rs-1', controller: true }],
    },
    spec: { containers: [{ name: 'envoy', image: 'envoyproxy/envoy:distroless-v1.36.0' }], ...(initContainers.length ? { initContainers } : {}) },
  };
}

/** A proxy pod of each case the sidecar audit tells apart: missing, drifted, current, foreign, another Gateway's, opted out. */
export function proxyPodsOfEveryCase(): ReturnType<typeof proxyPod>[] {
  return [
    proxyPod('missing'),
    proxyPod('drifted', { sidecar: 'old-image' }),
    proxyPod('current', { sidecar: 'current' }),
    proxyPod('foreign', { sidecar: 'foreign' }),
    proxyPod('other-gateway', { gateway: 'plain-gateway' }),
    proxyPod('opted-out', { annotations: { 'aigw-admission.io/inject': 'false' } }),
  ];
}
