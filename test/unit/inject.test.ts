import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { apply_patch } from 'jsonpatch';
import fc from 'fast-check';
import { formatFinding, review } from '../../src/review/review.js';
import { PolicySet, type PolicySettings } from '../../src/review/policy-set.js';
import { MemoryWorld } from '../../src/world/world.js';
import { Metrics } from '../../src/observe/metrics.js';
import { ConfigLoader } from '../../src/config/config.js';
import { ALL_POLICIES } from '../../policies/index.js';
import { HAS_SHARED, ROOT, SHARED, admissionReview, deps, readJson, yamlObjects } from '../helpers.js';
import { expectGolden } from '../golden-file.js';
import type { Logger } from '../../src/review/deps.js';
import type { AdmissionReviewRequest, JsonPatchOperation, KubeObject } from '../../src/kube/types.js';

const POD = yamlObjects(join(ROOT, 'test/fixtures/pods/envoy-proxy-pod.yaml'))[0]!;
const ROUTE = yamlObjects(join(ROOT, 'test/fixtures/pods/ai-gateway-route.yaml'))[0]!;

interface Recorded {
  obj: Record<string, unknown>;
  msg?: string;
}

function recorder(): Logger & { lines: Recorded[] } {
  const lines: Recorded[] = [];
  const push = (obj: object, msg?: string) => void lines.push({ obj: obj as Record<string, unknown>, msg });
  return { lines, debug: push, info: push, warn: push, error: push };
}

function podReview(pod: KubeObject): AdmissionReviewRequest {
  const input = admissionReview(pod);
  input.request.namespace = pod.metadata?.namespace;
  return input;
}

function inject(pod: KubeObject, opts: { minor?: number; routes?: KubeObject[]; settings?: Record<string, PolicySettings>; metrics?: Metrics } = {}) {
  const logger = recorder();
  const world = new MemoryWorld(opts.routes ?? [ROUTE], { kubernetesMinor: opts.minor });
  const d = deps({ world, logger, policies: new PolicySet(ALL_POLICIES, opts.settings ?? {}), metrics: opts.metrics });
  const { review: out, verdict } = review(podReview(pod), 'mutate', d);
  // The full text of each finding, as the log and `check` keep it; the answer's warnings are the bounded form.
  const messages = verdict.findings.filter((f) => f.mode !== 'audit').map(formatFinding);
  const ops: JsonPatchOperation[] = out.response.patch ? JSON.parse(Buffer.from(out.response.patch, 'base64').toString('utf8')) : [];
  const patched = ops.length > 0 ? (apply_patch(structuredClone(pod), ops) as KubeObject) : pod;
  const observations = logger.lines.filter((l) => String(l.obj.event).startsWith('sidecar_')).map((l) => l.obj);
  return { out, ops, patched, observations, messages };
}

type AnyRec = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** What the API server checks that our patch could break: unique names, mounts that name a volume, unique mount paths. */
function apiServerProblems(pod: KubeObject): string[] {
  const spec = pod.spec as AnyRec;
  const problems: string[] = [];
  const all: AnyRec[] = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  const names = all.map((c) => c.name);
  if (new Set(names).size !== names.length) problems.push(`duplicate container names: ${names.join(',')}`);
  const volumes = (spec.volumes ?? []).map((v: AnyRec) => v.name);
  if (new Set(volumes).size !== volumes.length) problems.push(`duplicate volume names: ${volumes.join(',')}`);
  for (const c of all) {
    const mounts: AnyRec[] = c.volumeMounts ?? [];
    for (const m of mounts) if (!volumes.includes(m.name)) problems.push(`${c.name}: mount of unknown volume ${m.name}`);
    const paths = mounts.map((m) => m.mountPath);
    if (new Set(paths).size !== paths.length) problems.push(`${c.name}: duplicate mountPath`);
    const ports = (c.ports ?? []).map((p: AnyRec) => p.name).filter(Boolean);
    if (new Set(ports).size !== ports.length) problems.push(`${c.name}: duplicate port names`);
  }
  for (const c of spec.initContainers ?? []) if (c.restartPolicy !== undefined && c.restartPolicy !== 'Always') problems.push(`${c.name}: bad restartPolicy`);
  return problems;
}

function golden(name: string, value: unknown): void {
  expectGolden(join(ROOT, 'test/golden/pods', name), `${JSON.stringify(value, null, 2)}\n`);
}

describe('ext_proc sidecar injection on Pod CREATE', () => {
  it.each([
    [32, 'k8s-1.32'],
    [33, 'k8s-1.33'],
  ] as const)('Kubernetes 1.%i: the golden patch applies to the golden pod, the API server would accept it, a second pass is a no-op', (minor, tag) => {
    const { out, ops, patched } = inject(POD, { minor });
    expect(out.response.allowed).toBe(true);
    expect(out.response.patchType).toBe('JSONPatch');
    golden(`envoy-proxy-pod.${tag}.patch.json`, ops);
    golden(`envoy-proxy-pod.${tag}.pod.json`, patched);
    expect(ops.every((op) => op.op === 'add')).toBe(true);
    expect(apiServerProblems(patched)).toEqual([]);
    const again = inject(patched, { minor });
    expect(again.ops).toEqual([]);
    expect(again.observations).toEqual([
      expect.objectContaining({ event: 'sidecar_injection_skipped', reason: 'already-injected', detail: `spec.${minor >= 33 ? 'initContainers' : 'containers'} already has ai-gateway-extproc` }),
    ]);
  });

  it('writes explicit operations: a native sidecar under initContainers created from nothing, escaped annotation key, appended volumes and mounts', () => {
    const { ops, out, messages } = inject(POD, { minor: 33 });
    expect(ops.map((o) => o.path)).toEqual([
      '/metadata/annotations/aigw-admission.io~1injected',
      '/spec/volumes/-',
      '/spec/volumes/-',
      '/spec/initContainers',
      '/spec/containers/0/volumeMounts/-',
    ]);
    expect(JSON.parse((ops[0] as { value: string }).value)).toEqual({
      container: 'ai-gateway-extproc',
      placement: 'initContainers',
      image: 'docker.io/envoyproxy/ai-gateway-extproc:v1.1.0',
      gateway: 'team-a/ai-gateway',
      template: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect(out.response.warnings).toEqual([
      '[inject-extproc-sidecar] spec.initContainers: injected ai-gateway-extproc (docker.io/envoyproxy/ai-gateway-extproc:v1.1.0) as a native sidecar in spec.initContainers (Kubernetes 1.33) for Gateway team-a/ai-gatew… (full text: aigw-admission check -f FILE)',
    ]);
    expect(messages).toEqual([
      '[inject-extproc-sidecar] spec.initContainers: injected ai-gateway-extproc (docker.io/envoyproxy/ai-gateway-extproc:v1.1.0) as a native sidecar in spec.initContainers (Kubernetes 1.33) for Gateway team-a/ai-gateway (AIGatewayRoutes team-a/chat), with its filter config from Secret ai-gateway-team-a; every envoy container mounts the socket at /etc/ai-gateway-extproc-uds',
    ]);
  });

  it('Kubernetes 1.32 or unknown: a regular container appended to spec.containers, and the message says how to get a native sidecar', () => {
    const { ops, patched, messages } = inject(POD, {});
    expect(ops.map((o) => o.path)).toEqual([
      '/metadata/annotations/aigw-admission.io~1injected',
      '/spec/volumes/-',
      '/spec/volumes/-',
      '/spec/containers/-',
      '/spec/containers/0/volumeMounts/-',
    ]);
    const containers = (patched.spec as AnyRec).containers as AnyRec[];
    expect(containers.map((c) => c.name)).toEqual(['envoy', 'shutdown-manager', 'ai-gateway-extproc']);
    expect(containers[2]!.restartPolicy).toBeUndefined();
    expect(messages[0]).toContain('as a regular container in spec.containers (Kubernetes version unknown; native sidecars need 1.33+, set kubernetesMinor in the config)');
  });

  it('the injected container is what SPEC §4 lists', () => {
    const { patched } = inject(POD, { minor: 33 });
    const spec = patched.spec as AnyRec;
    expect(spec.initContainers).toEqual([
      {
        name: 'ai-gateway-extproc',
        image: 'docker.io/envoyproxy/ai-gateway-extproc:v1.1.0',
        imagePullPolicy: 'IfNotPresent',
        args: ['-configPath', '/etc/filter-config/filter-config.yaml', '-logLevel', 'info', '-extProcAddr', 'unix:///etc/ai-gateway-extproc-uds/run.sock', '-adminPort', '1064'],
        ports: [{ name: 'aigw-admin', containerPort: 1064, protocol: 'TCP' }],
        readinessProbe: {
          httpGet: { path: '/health', port: 1064, scheme: 'HTTP' },
          initialDelaySeconds: 2,
          periodSeconds: 10,
          timeoutSeconds: 5,
          successThreshold: 1,
          failureThreshold: 1,
        },
        resources: {},
        securityContext: {
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
          privileged: false,
          readOnlyRootFilesystem: true,
          runAsGroup: 65532,
          runAsNonRoot: true,
          runAsUser: 65532,
          seccompProfile: { type: 'RuntimeDefault' },
        },
        volumeMounts: [
          { name: 'ai-gateway-extproc-uds', mountPath: '/etc/ai-gateway-extproc-uds' },
          { name: 'ai-gateway-extproc-filter-config', mountPath: '/etc/filter-config', readOnly: true },
        ],
        restartPolicy: 'Always',
      },
    ]);
    expect(spec.volumes.slice(2)).toEqual([
      { name: 'ai-gateway-extproc-uds', emptyDir: {} },
      { name: 'ai-gateway-extproc-filter-config', secret: { secretName: 'ai-gateway-team-a' } },
    ]);
    expect(spec.containers[0].volumeMounts.at(-1)).toEqual({ name: 'ai-gateway-extproc-uds', mountPath: '/etc/ai-gateway-extproc-uds' });
    expect(spec.containers[1].volumeMounts).toBeUndefined();
  });

  it('takes image, pull policy, log level, resources and env from the config; secrets stay references', () => {
    const config = new ConfigLoader(ALL_POLICIES).fromText(
      [
        'policies:',
        '  inject-extproc-sidecar:',
        '    params:',
        '      image: registry.example.com/ai-gateway-extproc:v1.1.0',
        '      imagePullPolicy: Always',
        '      logLevel: debug',
        '      resources: { requests: { cpu: 50m, memory: 64Mi }, limits: { memory: 256Mi } }',
        '      env:',
        '        OTEL_SERVICE_NAME: ai-gateway',
        '        OTEL_EXPORTER_OTLP_HEADERS: { valueFrom: { secretKeyRef: { name: otel, key: headers } } }',
      ].join('\n'),
    );
    const { patched } = inject(POD, { minor: 33, settings: config.policies });
    const c = (patched.spec as AnyRec).initContainers[0];
    expect(c.image).toBe('registry.example.com/ai-gateway-extproc:v1.1.0');
    expect(c.imagePullPolicy).toBe('Always');
    expect(c.args.slice(2, 4)).toEqual(['-logLevel', 'debug']);
    expect(c.resources).toEqual({ requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } });
    expect(c.env).toEqual([
      { name: 'OTEL_SERVICE_NAME', value: 'ai-gateway' },
      { name: 'OTEL_EXPORTER_OTLP_HEADERS', valueFrom: { secretKeyRef: { name: 'otel', key: 'headers' } } },
    ]);
  });

  it('refuses a sidecar config that names the field and the fix', () => {
    const load = (yaml: string) => () => new ConfigLoader(ALL_POLICIES).fromText(yaml);
    expect(load('policies: { inject-extproc-sidecar: { params: { imagePullPolicy: Sometimes } } }')).toThrow(
      'config: policies.inject-extproc-sidecar.params.imagePullPolicy: must be one of Always, IfNotPresent, Never',
    );
    expect(load('policies: { inject-extproc-sidecar: { params: { resources: { requests: { cpu: lots } } } } }')).toThrow(
      'config: policies.inject-extproc-sidecar.params.resources.requests.cpu: must match pattern',
    );
    expect(load('policies: { inject-extproc-sidecar: { params: { imagePolicy: Always } } }')).toThrow(
      'config: policies.inject-extproc-sidecar.params.imagePolicy: unknown field; remove it or check its spelling',
    );
  });

  describe('skips, each with a logged reason and a counter', () => {
    const withLabels = (labels: Record<string, string>, annotations: Record<string, string> = {}): KubeObject => {
      const pod = structuredClone(POD);
      pod.metadata!.labels = labels;
      pod.metadata!.annotations = annotations;
      return pod;
    };
    const managed = { 'app.kubernetes.io/managed-by': 'envoy-gateway' };
    const owned = { ...managed, 'gateway.envoyproxy.io/owning-gateway-name': 'ai-gateway', 'gateway.envoyproxy.io/owning-gateway-namespace': 'team-a' };

    it.each([
      ['not-envoy-proxy', withLabels({ app: 'web' }), 'the pod is not labelled app.kubernetes.io/managed-by: envoy-gateway'],
      ['no-owning-gateway', withLabels(managed), 'the pod has no gateway.envoyproxy.io/owning-gateway-name and -namespace labels (not a Gateway proxy)'],
      ['opted-out', withLabels(owned, { 'aigw-admission.io/inject': 'false' }), 'annotation aigw-admission.io/inject: "false"'],
    ])('%s', (reason, pod, detail) => {
      const { ops, observations, out } = inject(pod, { minor: 33 });
      expect(ops).toEqual([]);
      expect(out.response.warnings).toBeUndefined();
      expect(observations).toEqual([expect.objectContaining({ event: 'sidecar_injection_skipped', reason, detail, policy: 'inject-extproc-sidecar', pod: 'envoy-gateway-system/envoy-team-a-ai-gateway-3f2a91c0-6c9d7b8f4-*' })]);
    });

    it('no-aigatewayroute: only routes whose parentRefs name the Gateway count (a parentRef without namespace means the route namespace)', () => {
      const elsewhere = { ...ROUTE, metadata: { name: 'other', namespace: 'team-b' } };
      const { ops, observations } = inject(POD, { minor: 33, routes: [elsewhere] });
      expect(ops).toEqual([]);
      expect(observations).toEqual([
        expect.objectContaining({ reason: 'no-aigatewayroute', detail: 'no AIGatewayRoute has Gateway team-a/ai-gateway in spec.parentRefs', gateway: 'team-a/ai-gateway' }),
      ]);
      const crossNamespace = structuredClone(elsewhere) as AnyRec;
      crossNamespace.spec.parentRefs[0].namespace = 'team-a';
      expect(inject(POD, { minor: 33, routes: [crossNamespace as KubeObject] }).ops.length).toBe(5);
    });

    it('requireAIGatewayRoute: false injects without a route and says so', () => {
      const { ops, messages } = inject(POD, { minor: 33, routes: [], settings: { 'inject-extproc-sidecar': { params: { requireAIGatewayRoute: false } } } });
      expect(ops.length).toBe(5);
      expect(messages[0]).toContain('for Gateway team-a/ai-gateway (requireAIGatewayRoute is off)');
    });

    it('no-envoy-container and conflicts: no patch, a warning that names the field and the fix', () => {
      const noEnvoy = structuredClone(POD) as AnyRec;
      noEnvoy.spec.containers[0].name = 'proxy';
      const a = inject(noEnvoy as KubeObject, { minor: 33 });
      expect(a.ops).toEqual([]);
      expect(a.messages).toEqual([
        '[inject-extproc-sidecar] spec.containers: no container named envoy, so nothing could reach the ext_proc socket: the ai-gateway-extproc sidecar was not injected. If this pod is an Envoy proxy, name its Envoy container "envoy"; otherwise annotate it aigw-admission.io/inject: "false"',
      ]);
      expect(a.observations).toEqual([expect.objectContaining({ reason: 'no-envoy-container' })]);

      const clash = structuredClone(POD) as AnyRec;
      clash.spec.volumes.push({ name: 'ai-gateway-extproc-uds', hostPath: { path: '/tmp' } });
      const b = inject(clash as KubeObject, { minor: 33 });
      expect(b.ops).toEqual([]);
      expect(b.messages).toEqual([
        '[inject-extproc-sidecar] spec.volumes[2]: volume ai-gateway-extproc-uds exists and is not an emptyDir: the ai-gateway-extproc sidecar was not injected, so AI requests through Gateway team-a/ai-gateway will fail at this proxy. Remove or rename it (the name and path belong to the injected sidecar), or annotate the pod aigw-admission.io/inject: "false" if you inject the sidecar yourself',
      ]);
      expect(b.observations).toEqual([expect.objectContaining({ reason: 'conflict', detail: 'spec.volumes[2]: volume ai-gateway-extproc-uds exists and is not an emptyDir' })]);
    });

    it('reuses a matching UDS volume and Envoy mount the pod already has, so names stay unique', () => {
      const partial = structuredClone(POD) as AnyRec;
      partial.spec.volumes.push({ name: 'ai-gateway-extproc-uds', emptyDir: {} });
      partial.spec.containers[0].volumeMounts.push({ name: 'ai-gateway-extproc-uds', mountPath: '/etc/ai-gateway-extproc-uds' });
      const { ops, patched } = inject(partial as KubeObject, { minor: 33 });
      expect(ops.map((o) => o.path)).toEqual(['/metadata/annotations/aigw-admission.io~1injected', '/spec/volumes/-', '/spec/initContainers']);
      expect(apiServerProblems(patched)).toEqual([]);
    });

    it('an unknown opt-out value is reported and injection goes ahead', () => {
      const { ops, out } = inject(withLabels(owned, { 'aigw-admission.io/inject': 'no' }), { minor: 33 });
      expect(ops.length).toBe(5);
      expect(out.response.warnings![0]).toBe(
        '[inject-extproc-sidecar] metadata.annotations["aigw-admission.io/inject"]: unknown value "no": use "false" to opt out of the ext_proc sidecar or "true" (the default); injecting as if it were "true"',
      );
    });

    it('audit mode: no patch, the would-be injection is logged', () => {
      const { ops, observations, out } = inject(POD, { minor: 33, settings: { 'inject-extproc-sidecar': { mode: 'audit' } } });
      expect(ops).toEqual([]);
      expect(out.response.warnings).toBeUndefined();
      expect(observations).toEqual([expect.objectContaining({ event: 'sidecar_injection_skipped', reason: 'audit-mode', mode: 'audit' })]);
    });

    it('counts injections and skips by reason', async () => {
      const metrics = new Metrics();
      inject(POD, { minor: 33, metrics });
      inject(POD, { minor: 32, metrics });
      inject(POD, { minor: 33, metrics, routes: [] });
      inject(withLabels(owned, { 'aigw-admission.io/inject': 'false' }), { metrics });
      inject(withLabels(owned, { 'aigw-admission.io/inject': 'false' }), { metrics });
      const text = await metrics.registry.metrics();
      expect(text).toContain('aigw_admission_sidecar_injections_total{reason="native-sidecar"} 1\naigw_admission_sidecar_injections_total{reason="container"} 1\n');
      expect(text).toContain('aigw_admission_sidecar_injection_skipped_total{reason="no-aigatewayroute"} 1\naigw_admission_sidecar_injection_skipped_total{reason="opted-out"} 2\n');
    });
  });

  it.runIf(HAS_SHARED)('the real already-injected proxy pod body (../shared) gets no patch and the reason is logged', () => {
    const input = readJson<AdmissionReviewRequest>(join(SHARED, 'fixtures/admission-reviews/envoy-pod-already-injected-create-mutate.json'));
    const logger = recorder();
    const route = { ...ROUTE, metadata: { name: 'basic', namespace: 'default' }, spec: { parentRefs: [{ name: 'envoy-ai-gateway-basic' }], rules: [] } };
    const { review: out } = review(input, 'mutate', deps({ world: new MemoryWorld([route], { kubernetesMinor: 33 }), logger }));
    expect(out.response).toEqual({ uid: input.request.uid, allowed: true });
    expect(logger.lines.map((l) => l.obj).filter((o) => o.event === 'sidecar_injection_skipped')).toEqual([
      expect.objectContaining({ reason: 'already-injected', detail: 'spec.containers already has ai-gateway-extproc', gateway: 'default/envoy-ai-gateway-basic' }),
    ]);
    // The same pod without the sidecar and its volumes is injected like upstream did it.
    const stripped = structuredClone(input.request.object) as AnyRec;
    stripped.spec.containers = stripped.spec.containers.filter((c: AnyRec) => c.name !== 'ai-gateway-extproc');
    stripped.spec.containers[0].volumeMounts = stripped.spec.containers[0].volumeMounts.filter((m: AnyRec) => m.name !== 'ai-gateway-extproc-uds');
    stripped.spec.volumes = stripped.spec.volumes.filter((v: AnyRec) => !v.name.startsWith('ai-gateway-extproc'));
    const again = review(admissionReview(stripped as KubeObject), 'mutate', deps({ world: new MemoryWorld([route], { kubernetesMinor: 32 }) }));
    const ops = JSON.parse(Buffer.from(again.review.response.patch!, 'base64').toString('utf8'));
    const patched = apply_patch(structuredClone(stripped), ops) as AnyRec;
    const original = input.request.object as AnyRec;
    const names = (p: AnyRec) => ({ containers: p.spec.containers.map((c: AnyRec) => c.name), volumes: p.spec.volumes.map((v: AnyRec) => v.name) });
    expect(names(patched)).toEqual(names(original));
    expect(patched.spec.containers[0].volumeMounts).toEqual(original.spec.containers[0].volumeMounts);
    expect(patched.spec.volumes[3].secret.secretName).toBe(original.spec.volumes[3].secret.secretName);
  });
});

describe('property: over random pods and routes the patch applies cleanly, touches only its paths, and keeps every user field', () => {
  const token = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);
  const annotationKey = fc.oneof(token, fc.tuple(token, token).map(([a, b]) => `${a}.io/${b}`), token.map((t) => `odd~${t}/x`));
  const mount = fc.record({ name: token, mountPath: token.map((t) => `/m/${t}`) });
  const container = fc.record(
    {
      name: fc.oneof(fc.constant('envoy'), fc.constant('shutdown-manager'), token),
      image: token,
      env: fc.array(fc.record({ name: token.map((t) => t.toUpperCase().replace(/-/g, '_')), value: fc.string({ maxLength: 20 }) }), { maxLength: 5 }),
      volumeMounts: fc.uniqueArray(mount, { selector: (m) => m.mountPath, maxLength: 3 }),
    },
    { requiredKeys: ['name', 'image'] },
  );
  const pod = fc.record({
    annotations: fc.option(fc.dictionary(annotationKey, fc.string({ maxLength: 10 }), { maxKeys: 4 }), { nil: undefined }),
    containers: fc.uniqueArray(container, { selector: (c) => c.name, minLength: 1, maxLength: 4 }),
    initContainers: fc.option(fc.uniqueArray(container.map((c) => ({ ...c, name: `init-${c.name}` })), { selector: (c) => c.name, maxLength: 2 }), { nil: undefined }),
    volumes: fc.option(fc.uniqueArray(fc.record({ name: token, emptyDir: fc.constant({}) }), { selector: (v) => v.name, maxLength: 3 }), { nil: undefined }),
    gatewayNamespace: fc.constantFrom('team-a', 'team-b'),
    routeNamespaceRef: fc.constantFrom(undefined, 'team-a', 'team-b'),
    minor: fc.constantFrom(undefined, 28, 32, 33, 34),
  });

  it('holds for 300 cases', () => {
    let injected = 0;
    fc.assert(
      fc.property(pod, (p) => {
        const metadata: AnyRec = {
          generateName: 'envoy-',
          namespace: 'envoy-gateway-system',
          labels: { ...(POD.metadata!.labels as object), 'gateway.envoyproxy.io/owning-gateway-namespace': p.gatewayNamespace },
        };
        if (p.annotations) metadata.annotations = p.annotations;
        const spec: AnyRec = { containers: p.containers };
        if (p.initContainers) spec.initContainers = p.initContainers;
        if (p.volumes) spec.volumes = p.volumes;
        // The volumes the mounts refer to, so the input is a pod the API server accepts.
        const mounted = new Set([...p.containers, ...(p.initContainers ?? [])].flatMap((c) => (c.volumeMounts ?? []).map((m) => m.name)));
        spec.volumes = [...(spec.volumes ?? []), ...[...mounted].filter((n) => !(spec.volumes ?? []).some((v: AnyRec) => v.name === n)).map((name) => ({ name, emptyDir: {} }))];
        if (spec.volumes.length === 0) delete spec.volumes;
        const original = { apiVersion: 'v1', kind: 'Pod', metadata, spec } as KubeObject;
        const frozen = JSON.stringify(original);
        const parentRef: AnyRec = { name: 'ai-gateway' };
        if (p.routeNamespaceRef) parentRef.namespace = p.routeNamespaceRef;
        const route = { ...ROUTE, spec: { parentRefs: [parentRef], rules: [] } };
        const attached = (p.routeNamespaceRef ?? 'team-a') === p.gatewayNamespace;
        const conflicting = (spec.volumes ?? []).some((v: AnyRec) => v.name === 'ai-gateway-extproc-filter-config');
        const hasEnvoy = p.containers.some((c) => c.name === 'envoy');

        const { ops, patched } = inject(original, { minor: p.minor, routes: [route] });
        expect(JSON.stringify(original)).toBe(frozen); // the review never mutates its input
        if (!attached || !hasEnvoy || conflicting) {
          expect(ops).toEqual([]);
          return;
        }
        injected++;
        const placement = p.minor !== undefined && p.minor >= 33 ? 'initContainers' : 'containers';
        const envoyIdx = p.containers.flatMap((c, i) => (c.name === 'envoy' ? [i] : []));
        const allowed = new RegExp(
          `^(/metadata/annotations(/aigw-admission\\.io~1injected)?|/spec/volumes(/-)?|/spec/${placement}(/-)?|/spec/containers/(${envoyIdx.join('|')})/volumeMounts(/-)?)$`,
        );
        for (const op of ops) {
          expect(op.op).toBe('add');
          expect(op.path).toMatch(allowed);
        }
        expect(apiServerProblems(patched)).toEqual([]);
        // Remove exactly what was injected: what is left is the original, field for field.
        const back = structuredClone(patched) as AnyRec;
        delete back.metadata.annotations['aigw-admission.io/injected'];
        if (!original.metadata!.annotations) delete back.metadata.annotations;
        back.spec[placement] = back.spec[placement].filter((c: AnyRec) => c.name !== 'ai-gateway-extproc');
        if (back.spec[placement].length === 0 && !(original.spec as AnyRec)[placement]) delete back.spec[placement];
        back.spec.volumes = back.spec.volumes.filter((v: AnyRec) => !['ai-gateway-extproc-uds', 'ai-gateway-extproc-filter-config'].includes(v.name) || (original.spec as AnyRec).volumes?.some((o: AnyRec) => o.name === v.name));
        if (back.spec.volumes.length === 0 && !(original.spec as AnyRec).volumes) delete back.spec.volumes;
        for (const i of envoyIdx) {
          const c = back.spec.containers[i];
          const had = (original.spec as AnyRec).containers[i].volumeMounts;
          if (!had) delete c.volumeMounts;
          else c.volumeMounts = c.volumeMounts.slice(0, had.length);
        }
        expect(back).toEqual(original);
        expect(inject(patched, { minor: p.minor, routes: [route] }).ops).toEqual([]);
      }),
      { numRuns: 300, seed: 20261123 },
    );
    // The generator must reach the injecting branch often, or the property proves nothing.
    expect(injected).toBeGreaterThan(60);
  });
});
