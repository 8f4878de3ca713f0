/**
 * The AdmissionReview bodies the benchmark sends. Real bodies come from ../shared/fixtures/admission-reviews when it
 * is beside the project (else from test/fixtures); the large ones are built here in the same shape as the real ones
 * (API-server envelope, managedFields, kubectl last-applied annotation, CRD defaults).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { AdmissionReviewRequest, Endpoint, KubeObject } from '../src/kube/types.js';

/** The project root: this file runs from dist/bench/. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHARED_REVIEWS = resolve(ROOT, '..', 'shared', 'fixtures', 'admission-reviews');
const OWN_REVIEWS = join(ROOT, 'test', 'fixtures', 'admission-reviews');
const SHARED_TOKEN_RATELIMIT = resolve(ROOT, '..', 'shared', 'fixtures', 'examples', 'ai-gateway', 'examples__token_ratelimit__token_ratelimit.yaml');
const OWN_SINGLE_ROUTE = join(ROOT, 'test', 'fixtures', 'bench', 'token-cost-route.yaml');
export const HAS_SHARED = existsSync(SHARED_REVIEWS);

export interface BenchBody {
  /** The body type, as shown in the table. */
  type: string;
  endpoint: Endpoint;
  text: string;
  uid: string;
}

type Json = Record<string, unknown>;

function readReview(path: string): AdmissionReviewRequest {
  return JSON.parse(readFileSync(path, 'utf8')) as AdmissionReviewRequest;
}

function body(type: string, endpoint: Endpoint, review: AdmissionReviewRequest): BenchBody {
  return { type, endpoint, text: JSON.stringify(review), uid: review.request.uid };
}

/** The API server's envelope around an object (CREATE, kubectl client-side apply), with a fresh uid. */
function envelope(object: KubeObject, resource: string, options: { dryRun?: boolean; userInfo?: Json } = {}): AdmissionReviewRequest {
  const [group, version] = object.apiVersion!.includes('/') ? object.apiVersion!.split('/') : ['', object.apiVersion!];
  const kind = { group: group!, version: version!, kind: object.kind! };
  return {
    kind: 'AdmissionReview',
    apiVersion: 'admission.k8s.io/v1',
    request: {
      uid: randomUUID(),
      kind,
      resource: { group: group!, version: version!, resource },
      requestKind: kind,
      requestResource: { group: group!, version: version!, resource },
      name: object.metadata?.name,
      namespace: object.metadata?.namespace,
      operation: 'CREATE',
      userInfo: options.userInfo ?? { username: 'admin', uid: 'admin-uid', groups: ['system:masters', 'system:authenticated'] },
      object,
      oldObject: null,
      dryRun: options.dryRun ?? false,
      options: {
        kind: 'CreateOptions',
        apiVersion: 'meta.k8s.io/v1',
        ...(options.dryRun ? { dryRun: ['All'] } : {}),
        fieldManager: 'kubectl-client-side-apply',
        fieldValidation: 'Strict',
      },
    } as AdmissionReviewRequest['request'],
  } as AdmissionReviewRequest;
}

/** Metadata as the API server shows it: the validate phase has uid, creationTimestamp and generation, mutate has not. */
function appliedMetadata(manifest: KubeObject, endpoint: Endpoint, topFields: string[]): Json {
  const meta: Json = {
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': `${JSON.stringify(manifest)}\n` },
    managedFields: [
      {
        apiVersion: manifest.apiVersion,
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:metadata': { 'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/last-applied-configuration': {} } },
          'f:spec': Object.fromEntries([['.', {}], ...topFields.map((f) => [`f:${f}`, {}])]),
        },
        manager: 'kubectl-client-side-apply',
        operation: 'Update',
        time: '2026-11-22T13:29:36Z',
      },
    ],
    name: manifest.metadata!.name,
    namespace: manifest.metadata!.namespace,
  };
  if (endpoint === 'validate') Object.assign(meta, { creationTimestamp: '2026-11-22T13:29:36Z', generation: 1, uid: randomUUID() });
  return meta;
}

/** An AIGatewayRoute CREATE with `rules` rules of `backends` backendRefs each, as kubectl apply sends it. */
export function largeRoute(rules: number, backends: number, endpoint: Endpoint, name = `bench-${rules}x${backends}`): AdmissionReviewRequest {
  const ruleManifest = (i: number) => ({
    name: `model-${i}`,
    matches: [{ headers: [{ type: 'Exact', name: 'x-ai-eg-model', value: `model-${i}` }] }],
    // Backends in priority tiers of four, so every rule has somewhere to fall over to.
    backendRefs: Array.from({ length: backends }, (_, j) => ({ name: `provider-${j}`, priority: Math.floor(j / 4) })),
    timeouts: { request: '300s', backendRequest: '60s' },
    streamIdleTimeout: '30s',
  });
  const manifest: KubeObject = {
    apiVersion: 'aigateway.envoyproxy.io/v1beta1',
    kind: 'AIGatewayRoute',
    metadata: { annotations: {}, name, namespace: 'team-a' },
    spec: {
      parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'ai-gateway' }],
      rules: Array.from({ length: rules }, (_, i) => ruleManifest(i)),
    },
  };
  // CRD defaults are already applied when the webhook sees the object.
  const spec = structuredClone(manifest.spec) as { rules: Json[] };
  for (const rule of spec.rules) {
    rule.modelsOwnedBy = 'Envoy AI Gateway';
    for (const ref of rule.backendRefs as Json[]) ref.weight = 1;
  }
  const object: KubeObject = {
    apiVersion: manifest.apiVersion,
    kind: manifest.kind,
    metadata: appliedMetadata(manifest, endpoint, ['parentRefs', 'rules']) as KubeObject['metadata'],
    spec,
  };
  return envelope(object, 'aigatewayroutes');
}

/**
 * The single-body case: one real upstream AIGatewayRoute (the token-ratelimit example, with a CEL cost) as kubectl
 * apply sends it to /validate, or the project's own route of the same shape without ../shared.
 */
export function singleRoute(): { type: string; review: AdmissionReviewRequest } {
  const upstream = existsSync(SHARED_TOKEN_RATELIMIT);
  const file = upstream ? SHARED_TOKEN_RATELIMIT : OWN_SINGLE_ROUTE;
  const manifest = parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as KubeObject | null)
    .find((o) => o?.kind === 'AIGatewayRoute');
  if (!manifest) throw new Error(`${file} holds no AIGatewayRoute`);
  // CRD defaults are already applied when the webhook sees the object.
  const spec = structuredClone(manifest.spec) as { rules: Json[] };
  for (const rule of spec.rules) {
    rule.modelsOwnedBy ??= 'Envoy AI Gateway';
    for (const ref of rule.backendRefs as Json[]) ref.weight ??= 1;
  }
  const object: KubeObject = {
    apiVersion: manifest.apiVersion,
    kind: manifest.kind,
    metadata: appliedMetadata(manifest, 'validate', Object.keys(manifest.spec as Json)) as KubeObject['metadata'],
    spec,
  };
  return { type: upstream ? 'AIGatewayRoute upstream token-ratelimit example' : 'AIGatewayRoute token-cost (test fixture)', review: envelope(object, 'aigatewayroutes') };
}

/** An EnvoyPatchPolicy with `patches` JSON patches against the xDS of a route's rules (routes and clusters). */
export function envoyPatchPolicy(patches: number, routeName = 'bench-15x16'): AdmissionReviewRequest {
  const jsonPatches = Array.from({ length: patches }, (_, i) => {
    const rule = Math.floor(i / 2);
    return i % 2 === 0
      ? {
          type: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
          name: 'team-a/ai-gateway/http',
          operation: {
            op: 'add',
            jsonPath: `..routes[?(@.name=='httproute/team-a/${routeName}/rule/${rule}/match/0/*')]`,
            path: '/route/idle_timeout',
            value: '300s',
          },
        }
      : {
          type: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
          name: `httproute/team-a/${routeName}/rule/${rule}`,
          operation: { op: 'add', path: '/per_connection_buffer_limit_bytes', value: 52428800 },
        };
  });
  const manifest: KubeObject = {
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    kind: 'EnvoyPatchPolicy',
    metadata: { annotations: {}, name: `${routeName}-patches`, namespace: 'team-a' },
    spec: {
      type: 'JSONPatch',
      priority: 10,
      targetRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'ai-gateway' },
      jsonPatches,
    },
  };
  const object: KubeObject = {
    ...manifest,
    metadata: appliedMetadata(manifest, 'validate', ['jsonPatches', 'priority', 'targetRef', 'type']) as KubeObject['metadata'],
  };
  return envelope(object, 'envoypatchpolicies');
}

const EXTPROC_CONTAINER = 'ai-gateway-extproc';
const EXTPROC_VOLUMES = ['ai-gateway-extproc-uds', 'ai-gateway-extproc-filter-config'];

/** Removes what the sidecar injection adds, so the pod is what Envoy Gateway's ReplicaSet creates. */
function withoutExtproc(review: AdmissionReviewRequest): AdmissionReviewRequest {
  const out = structuredClone(review);
  const pod = out.request.object as { spec: { containers: Json[]; volumes?: Json[] }; metadata: { managedFields?: Json[] } };
  pod.spec.containers = pod.spec.containers.filter((c) => c.name !== EXTPROC_CONTAINER);
  pod.spec.volumes = pod.spec.volumes?.filter((v) => !EXTPROC_VOLUMES.includes(v.name as string));
  for (const c of pod.spec.containers) {
    c.volumeMounts = (c.volumeMounts as Json[] | undefined)?.filter((m) => !EXTPROC_VOLUMES.includes(m.name as string));
  }
  for (const mf of pod.metadata.managedFields ?? []) {
    const spec = (mf.fieldsV1 as Json | undefined)?.['f:spec'] as Json | undefined;
    const containers = spec?.['f:containers'] as Json | undefined;
    if (containers) delete containers[`k:{"name":"${EXTPROC_CONTAINER}"}`];
    for (const [key, value] of Object.entries((containers ?? {}) as Record<string, Json>)) {
      const mounts = value['f:volumeMounts'] as Json | undefined;
      if (mounts && key.includes('"envoy"')) delete mounts['k:{"mountPath":"/etc/ai-gateway-extproc-uds"}'];
    }
    const volumes = spec?.['f:volumes'] as Json | undefined;
    if (volumes) for (const v of EXTPROC_VOLUMES) delete volumes[`k:{"name":"${v}"}`];
  }
  out.request.uid = randomUUID();
  return out;
}

const probe = (path: string, port: number, period: number, failures: number) => ({
  httpGet: { path, port, scheme: 'HTTP' },
  timeoutSeconds: 1,
  periodSeconds: period,
  successThreshold: 1,
  failureThreshold: failures,
});
const fieldEnv = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } });
const restricted = { privileged: false, runAsUser: 65532, runAsGroup: 65532, runAsNonRoot: true, allowPrivilegeEscalation: false, seccompProfile: { type: 'RuntimeDefault' } };

/** The Envoy proxy pod Envoy Gateway creates, for when ../shared is absent (same shape, fewer managedFields). */
function builtProxyPod(): AdmissionReviewRequest {
  const name = 'envoy-default-ai-gateway-5a1e3b2c';
  const pod: KubeObject = {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: {
      generateName: `${name}-7d9f8c6b5d-`,
      namespace: 'envoy-gateway-system',
      creationTimestamp: null as unknown as string,
      labels: {
        'app.kubernetes.io/component': 'proxy',
        'app.kubernetes.io/managed-by': 'envoy-gateway',
        'app.kubernetes.io/name': 'envoy',
        'gateway.envoyproxy.io/owning-gateway-name': 'ai-gateway',
        'gateway.envoyproxy.io/owning-gateway-namespace': 'default',
        'pod-template-hash': '7d9f8c6b5d',
      },
      annotations: { 'prometheus.io/path': '/stats/prometheus', 'prometheus.io/port': '19001', 'prometheus.io/scrape': 'true' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name}-7d9f8c6b5d`, uid: randomUUID(), controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      volumes: [
        { name: 'certs', secret: { secretName: 'envoy', defaultMode: 420 } },
        { name: 'sds', configMap: { name, items: [{ key: 'xds-trusted-ca.json', path: 'xds-trusted-ca.json' }, { key: 'xds-certificate.json', path: 'xds-certificate.json' }], defaultMode: 420 } },
      ],
      containers: [
        {
          name: 'envoy',
          image: 'envoyproxy/envoy:distroless-v1.36.0',
          command: ['envoy'],
          args: ['--service-cluster ai-gateway', '--service-node $(ENVOY_POD_NAME)', '--config-yaml admin:\n  address:\n    socket_address:\n      address: 127.0.0.1\n      port_value: 19000\n', '--log-level warn', '--cpuset-threads', '--drain-strategy immediate', '--drain-time-s 60'],
          ports: [{ name: 'http-80', containerPort: 10080, protocol: 'TCP' }, { name: 'metrics', containerPort: 19001, protocol: 'TCP' }],
          env: [fieldEnv('ENVOY_GATEWAY_NAMESPACE', 'metadata.namespace'), fieldEnv('ENVOY_POD_NAME', 'metadata.name')],
          resources: { requests: { cpu: '100m', memory: '512Mi' } },
          volumeMounts: [{ name: 'certs', readOnly: true, mountPath: '/certs' }, { name: 'sds', mountPath: '/sds' }],
          readinessProbe: probe('/ready', 19003, 5, 1),
          startupProbe: probe('/ready', 19003, 10, 30),
          lifecycle: { preStop: { httpGet: { path: '/shutdown/ready', port: 19002, scheme: 'HTTP' } } },
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
          securityContext: restricted,
        },
        {
          name: 'shutdown-manager',
          image: 'envoyproxy/gateway:v1.6.0',
          command: ['envoy-gateway'],
          args: ['envoy', 'shutdown-manager'],
          env: [fieldEnv('ENVOY_GATEWAY_NAMESPACE', 'metadata.namespace'), fieldEnv('ENVOY_POD_NAME', 'metadata.name')],
          resources: { requests: { cpu: '10m', memory: '32Mi' } },
          livenessProbe: probe('/healthz', 19002, 10, 3),
          readinessProbe: probe('/healthz', 19002, 10, 3),
          lifecycle: { preStop: { exec: { command: ['envoy-gateway', 'envoy', 'shutdown', '--drain-timeout', '60s'] } } },
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
          securityContext: restricted,
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 360,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: name,
      serviceAccount: name,
      automountServiceAccountToken: false,
      securityContext: {},
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status: {},
  };
  const review = envelope(pod, 'pods', { userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts', 'system:authenticated'] } });
  review.request.options = { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' };
  return review;
}

/** The Envoy proxy pod CREATE on /mutate, before the ext_proc sidecar is injected. */
export function proxyPod(): AdmissionReviewRequest {
  const real = join(SHARED_REVIEWS, 'envoy-pod-already-injected-create-mutate.json');
  return existsSync(real) ? withoutExtproc(readReview(real)) : builtProxyPod();
}

/** The proxy pod with `count` extra env vars on the envoy container (the object-size series). */
export function proxyPodWithEnv(base: AdmissionReviewRequest, count: number): AdmissionReviewRequest {
  const out = structuredClone(base);
  out.request.uid = randomUUID();
  const envoy = (out.request.object!.spec as { containers: Json[] }).containers.find((c) => c.name === 'envoy')!;
  const env = envoy.env as Json[];
  for (let i = 0; i < count; i++) env.push({ name: `SETTING_${String(i).padStart(4, '0')}`, value: `v${i}` });
  return out;
}

/** Every body of the served mix, each as the API server sends it. */
export function servedMix(): BenchBody[] {
  const bodies: BenchBody[] = [];
  bodies.push(body('AIGatewayRoute 15 rules × 16 backends', 'mutate', largeRoute(15, 16, 'mutate', 'bench-15x16')));
  bodies.push(body('AIGatewayRoute 15 rules × 16 backends', 'validate', largeRoute(15, 16, 'validate', 'bench-15x16')));
  const examples = HAS_SHARED
    ? readdirSync(SHARED_REVIEWS).filter((f) => /^aigatewayroute-example-.*-create-(mutate|validate)\.json$/.test(f)).sort().map((f) => join(SHARED_REVIEWS, f))
    : readdirSync(OWN_REVIEWS).filter((f) => f.endsWith('.json')).sort().map((f) => join(OWN_REVIEWS, f));
  for (const file of examples) {
    const endpoints: Endpoint[] = HAS_SHARED ? [file.endsWith('-mutate.json') ? 'mutate' : 'validate'] : ['mutate', 'validate'];
    for (const endpoint of endpoints) {
      const review = readReview(file);
      if (!HAS_SHARED) review.request.uid = randomUUID();
      bodies.push(body(HAS_SHARED ? 'AIGatewayRoute upstream examples' : 'AIGatewayRoute test fixtures', endpoint, review));
    }
  }
  bodies.push(body('EnvoyPatchPolicy 10 patches', 'validate', envoyPatchPolicy(10)));
  bodies.push(body('Envoy proxy Pod CREATE', 'mutate', proxyPod()));
  const dryRunFile = join(SHARED_REVIEWS, 'aigatewayroute-create-dryrun-validate.json');
  if (existsSync(dryRunFile)) bodies.push(body('AIGatewayRoute dry-run', 'validate', readReview(dryRunFile)));
  else {
    const review = readReview(join(OWN_REVIEWS, 'aigatewayroute-healthy.json'));
    review.request.uid = randomUUID();
    review.request.dryRun = true;
    review.request.options = { ...review.request.options, dryRun: ['All'] };
    bodies.push(body('AIGatewayRoute dry-run', 'validate', review));
  }
  return bodies;
}

/** An AIGatewayRoute attached to the Gateway that owns `pod`: with it in the world, the pod gets the ext_proc sidecar. */
export function routeForPodGateway(pod: AdmissionReviewRequest): KubeObject {
  const labels = pod.request.object?.metadata?.labels ?? {};
  const name = labels['gateway.envoyproxy.io/owning-gateway-name'] ?? 'ai-gateway';
  const namespace = labels['gateway.envoyproxy.io/owning-gateway-namespace'] ?? 'default';
  const route = largeRoute(1, 2, 'validate', 'bench-injection').request.object!;
  route.metadata = { ...route.metadata, namespace };
  (route.spec as Json).parentRefs = [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name }];
  return route;
}
