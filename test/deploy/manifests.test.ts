import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ALL_POLICIES } from '../../policies/index.js';
import { FAILURE_POLICY_WHEN_READY, generatedDeployFiles, rulesFor, webhookConfiguration } from '../../src/deploy/webhook-rules.js';
import { ConfigLoader } from '../../src/config/config.js';
import { definePolicy, type AnyPolicy } from '../../src/review/policy.js';
import { AIGATEWAYROUTE, ENVOYPATCHPOLICY, POD } from '../../src/model/kinds.js';
import type { KubeObject, Operation } from '../../src/kube/types.js';
import { ROOT } from '../helpers.js';
import { OPENREPORTS, WGPOLICY } from '../../src/audit/policy-report.js';
import { schemaProblems, unknownFields } from './schemas.js';
import { DEPLOYED_NODE_OPTIONS } from '../../bench/deployed.js';

function render(dir: string): KubeObject[] {
  // kubectl ships kustomize; no API server is needed to render.
  const out = execFileSync('kubectl', ['kustomize', join(ROOT, dir)], { encoding: 'utf8' });
  return parseAllDocuments(out).map((d) => d.toJS() as KubeObject);
}

const find = (objs: KubeObject[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata?.name === name);
  if (!o) throw new Error(`${kind} ${name} not rendered`);
  return o as KubeObject & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
};

type Webhook = { name: string; rules: Array<{ apiGroups: string[]; apiVersions: string[]; operations: Operation[]; resources: string[] }> } & Record<string, unknown>;

/** (endpoint group/resource/version operation) for every combination the rules send to the webhook. */
function ruleTuples(endpoint: string, webhooks: Webhook[]): string[] {
  return webhooks
    .flatMap((w) => w.rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.apiVersions.flatMap((v) => r.operations.map((o) => `${endpoint} ${g}/${res}/${v} ${o}`))))))
    .sort();
}

/** The same tuples, straight from the policies' declarations. */
function declaredTuples(policies: readonly AnyPolicy[]): string[] {
  const set = new Set<string>();
  for (const p of policies)
    for (const k of p.match.kinds) for (const v of k.versions) for (const o of p.match.operations) set.add(`${p.endpoint} ${k.group}/${k.resource}/${v} ${o}`);
  return [...set].sort();
}

const stub = (id: string, endpoint: 'validate' | 'mutate', kinds: AnyPolicy['match']['kinds'], operations: Operation[]): AnyPolicy =>
  definePolicy({ id, description: id, endpoint, match: { kinds, operations }, defaultMode: 'warn', onError: 'allow-with-warning', paramsSchema: {}, defaultParams: {}, evaluate: () => ({}) });

describe('deploy/: webhook rules generated from the policies', () => {
  it('the checked-in webhook configurations are exactly what `npm run gen:deploy` writes', () => {
    for (const [file, content] of Object.entries(generatedDeployFiles(ALL_POLICIES))) {
      expect(readFileSync(join(ROOT, 'deploy/base', file), 'utf8'), `deploy/base/${file} is stale: run npm run gen:deploy`).toBe(content);
    }
  });

  it('the rendered rules cover exactly the kinds, versions and operations the policies declare, per endpoint', () => {
    const objs = render('deploy');
    const v = find(objs, 'ValidatingWebhookConfiguration', 'aigw-admission').webhooks as Webhook[];
    const m = find(objs, 'MutatingWebhookConfiguration', 'aigw-admission').webhooks as Webhook[];
    expect([...ruleTuples('validate', v), ...ruleTuples('mutate', m)].sort()).toEqual(declaredTuples(ALL_POLICIES));
  });

  it('handles pods (core group, own entry with objectSelector and IfNeeded), EnvoyPatchPolicies and DELETE', () => {
    const policies = [
      ...ALL_POLICIES,
      stub('inject-extproc-sidecar', 'mutate', [POD], ['CREATE']),
      stub('epp-route-names', 'validate', [ENVOYPATCHPOLICY], ['CREATE', 'UPDATE']),
      stub('route-delete-references', 'validate', [AIGATEWAYROUTE], ['DELETE']),
    ];
    const validating = webhookConfiguration(policies, 'validate') as { webhooks: Webhook[] };
    // Installed as Ignore everywhere (nothing is refused before a pod is ready); a ready replica raises the entries
    // declared Fail. Deletes have their own entry that stays Ignore: a webhook outage never blocks deleting a route.
    expect(validating.webhooks.map((w) => [w.name, w.failurePolicy, FAILURE_POLICY_WHEN_READY.get(w.name)])).toEqual([
      ['gateway.validate.aigw-admission.io', 'Ignore', 'Fail'],
      ['gateway-deletes.validate.aigw-admission.io', 'Ignore', 'Ignore'],
    ]);
    expect(validating.webhooks[0]!.rules).toEqual([
      { apiGroups: ['aigateway.envoyproxy.io'], apiVersions: ['v1alpha1', 'v1beta1'], operations: ['CREATE', 'UPDATE'], resources: ['aigatewayroutes'], scope: 'Namespaced' },
      { apiGroups: ['gateway.envoyproxy.io'], apiVersions: ['v1alpha1'], operations: ['CREATE', 'UPDATE'], resources: ['backendtrafficpolicies'], scope: 'Namespaced' },
      { apiGroups: ['gateway.envoyproxy.io'], apiVersions: ['v1alpha1'], operations: ['CREATE', 'UPDATE'], resources: ['envoypatchpolicies'], scope: 'Namespaced' },
    ]);
    expect(validating.webhooks[1]!.rules).toEqual([
      { apiGroups: ['aigateway.envoyproxy.io'], apiVersions: ['v1alpha1', 'v1beta1'], operations: ['DELETE'], resources: ['aigatewayroutes'], scope: 'Namespaced' },
    ]);
    const mutating = webhookConfiguration(policies, 'mutate') as { webhooks: Webhook[] };
    expect(mutating.webhooks.map((w) => [w.name, w.failurePolicy, FAILURE_POLICY_WHEN_READY.get(w.name), w.reinvocationPolicy])).toEqual([
      ['gateway.mutate.aigw-admission.io', 'Ignore', 'Ignore', 'Never'],
      ['pods.mutate.aigw-admission.io', 'Ignore', 'Fail', 'IfNeeded'],
    ]);
    const pods = mutating.webhooks[1]!;
    expect(pods.rules).toEqual([{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }]);
    expect(pods.objectSelector).toEqual({ matchLabels: { 'app.kubernetes.io/managed-by': 'envoy-gateway' } });
    expect(pods.clientConfig).toEqual({ service: { name: 'aigw-admission', namespace: 'aigw-admission', path: '/mutate', port: 443 } });
    expect([...ruleTuples('validate', validating.webhooks), ...ruleTuples('mutate', mutating.webhooks)].sort()).toEqual(declaredTuples(policies));
  });

  it('refuses a kind without a resource, naming the policy', () => {
    const bad = stub('bad', 'validate', [{ group: 'x.io', kind: 'Thing', resource: '', versions: ['v1'] }], ['CREATE']);
    expect(() => rulesFor([bad], 'validate')).toThrow('policy bad: kind x.io/Thing declares no resource or versions; the webhook rules cannot be written');
  });
});

describe('deploy/: rendered manifests', () => {
  const base = render('deploy');
  const certManager = render('deploy/overlays/cert-manager');

  it('kubectl kustomize renders the base and the cert-manager overlay, every object valid against its schema', () => {
    expect(base.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual([
      'Namespace/aigw-admission',
      'ServiceAccount/aigw-admission',
      'Role/aigw-admission-certs',
      'ClusterRole/aigw-admission',
      'RoleBinding/aigw-admission-certs',
      'ClusterRoleBinding/aigw-admission',
      'ConfigMap/aigw-admission-config',
      'Service/aigw-admission',
      'PriorityClass/aigw-admission',
      'Deployment/aigw-admission',
      'PodDisruptionBudget/aigw-admission',
      'NetworkPolicy/aigw-admission',
      'MutatingWebhookConfiguration/aigw-admission',
      'ValidatingWebhookConfiguration/aigw-admission',
    ]);
    expect(certManager.map((o) => `${o.kind}/${o.metadata?.name}`).filter((k) => /Certificate\/|Issuer\//.test(k))).toEqual([
      'Certificate/aigw-admission-ca',
      'Certificate/aigw-admission-serving',
      'Issuer/aigw-admission-ca',
      'Issuer/aigw-admission-selfsigned',
    ]);
    expect([...base, ...certManager].flatMap(schemaProblems)).toEqual([]);
  });

  it('the schema checks catch a wrong type, a missing required field and a misspelt field', () => {
    const d = structuredClone(find(base, 'Deployment', 'aigw-admission'));
    d.spec.replicas = 'two';
    d.spec.template.spec.containers[0].readinesProbe = d.spec.template.spec.containers[0].readinessProbe;
    delete d.spec.selector;
    expect(schemaProblems(d)).toEqual([
      'Deployment aigw-admission: data/spec must have required property selector, data/spec/replicas must be integer',
      'Deployment aigw-admission: unknown field spec.template.spec.containers[0].readinesProbe',
    ]);
    expect(unknownFields({ metadata: { name: 'x', labelz: {} } }, 'V1Namespace')).toEqual(['metadata.labelz']);
    expect(schemaProblems({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } })).toEqual(['Pod p: no schema known for v1/Pod']);
  });

  it('webhooks: NoneOnDryRun, v1 reviews, at most 5 s, Equivalent, never their own namespace or kube-system', () => {
    for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
      for (const w of find(base, kind, 'aigw-admission').webhooks as Webhook[]) {
        expect(w).toMatchObject({ sideEffects: 'NoneOnDryRun', admissionReviewVersions: ['v1'], matchPolicy: 'Equivalent' });
        expect(w.timeoutSeconds).toBeLessThanOrEqual(5);
        expect(w.namespaceSelector).toEqual({ matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'aigw-admission'] }] });
      }
    }
  });

  it('Deployment: 2 replicas spread apart, a PDB, probes on the plain-HTTP probe port, non-root with a read-only root FS, --manage-certs', () => {
    const d = find(base, 'Deployment', 'aigw-admission');
    const c = d.spec.template.spec.containers[0];
    expect(d.spec.replicas).toBe(2);
    expect(d.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
    expect(find(base, 'PodDisruptionBudget', 'aigw-admission').spec).toEqual({ minAvailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': 'aigw-admission' } } });
    // Probes on the probe port, which --client-ca does not cover: a kubelet has no client certificate.
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'probes', scheme: 'HTTP' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'probes', scheme: 'HTTP' });
    expect(c.ports).toEqual([{ name: 'https', containerPort: 8443, protocol: 'TCP' }, { name: 'probes', containerPort: 8080, protocol: 'TCP' }]);
    expect(d.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(c.resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '384Mi' } });
    // V8's young generation as benched, not as Node would size it from the limit; the bench reads this same value.
    expect(c.env.find((e: { name: string }) => e.name === 'NODE_OPTIONS')).toEqual({ name: 'NODE_OPTIONS', value: '--max-semi-space-size=16' });
    expect(DEPLOYED_NODE_OPTIONS).toBe('--max-semi-space-size=16');
    expect(c.args).toEqual(['serve', '--listen=0.0.0.0:8443', '--probe-listen=0.0.0.0:8080', '--tls-dir=/tls', '--config=/etc/aigw-admission/config.yaml', '--manage-certs']);
    expect(find(base, 'Service', 'aigw-admission').spec.ports).toEqual([
      { name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' },
      { name: 'metrics', port: 8080, targetPort: 'probes', protocol: 'TCP' },
    ]);
  });

  it('NetworkPolicy: the webhook port from outside the pod network only (the API server), the probe port also from monitoring', () => {
    const policy = find(base, 'NetworkPolicy', 'aigw-admission');
    const outsidePods = { ipBlock: { cidr: '0.0.0.0/0', except: ['10.244.0.0/16'] } };
    expect(policy.spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'aigw-admission' } },
      policyTypes: ['Ingress'],
      ingress: [
        { ports: [{ port: 'https', protocol: 'TCP' }], from: [outsidePods] },
        { ports: [{ port: 'probes', protocol: 'TCP' }], from: [outsidePods, { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] },
      ],
    });
    // The named ports it lets in are the container's.
    const ports = find(base, 'Deployment', 'aigw-admission').spec.template.spec.containers[0].ports.map((p: { name: string }) => p.name);
    expect(policy.spec.ingress.map((r: { ports: Array<{ port: string }> }) => r.ports[0]!.port)).toEqual(ports);
    expect(find(certManager, 'Deployment', 'aigw-admission').spec.template.spec.containers[0].args).toContain('--probe-listen=0.0.0.0:8080');
  });

  it('RBAC: its own Secret and webhook configurations by name; create is the one verb without resourceNames', () => {
    const role = find(base, 'Role', 'aigw-admission-certs');
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['aigw-admission-tls'], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    ]);
    const cluster = find(base, 'ClusterRole', 'aigw-admission');
    expect(cluster.rules.find((r: { apiGroups: string[] }) => r.apiGroups[0] === 'admissionregistration.k8s.io')).toEqual({
      apiGroups: ['admissionregistration.k8s.io'],
      resources: ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'],
      resourceNames: ['aigw-admission'],
      verbs: ['get', 'patch'],
    });
    expect(cluster.rules.some((r: { resources: string[] }) => r.resources.includes('secrets'))).toBe(false);
  });

  it('the cert-manager overlay: CA injection on both configurations, the Secret mounted, --no-manage-certs, no Secret rights', () => {
    for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
      expect(find(certManager, kind, 'aigw-admission').metadata!.annotations).toEqual({ 'cert-manager.io/inject-ca-from': 'aigw-admission/aigw-admission-serving' });
    }
    const d = find(certManager, 'Deployment', 'aigw-admission');
    expect(d.spec.template.spec.containers[0].args.at(-1)).toBe('--no-manage-certs');
    expect(d.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'tls')).toEqual({ name: 'tls', secret: { secretName: 'aigw-admission-tls', defaultMode: 0o440 } });
    expect(find(certManager, 'Certificate', 'aigw-admission-serving').spec.dnsNames).toContain('aigw-admission.aigw-admission.svc');
    expect(certManager.some((o) => o.kind === 'Role')).toBe(false);
    // It keeps get/patch on its own two webhook configurations: a ready replica raises their failurePolicy.
    expect(find(certManager, 'ClusterRole', 'aigw-admission').rules.filter((r: { apiGroups: string[] }) => r.apiGroups[0] === 'admissionregistration.k8s.io')).toEqual([
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'], resourceNames: ['aigw-admission'], verbs: ['get', 'patch'] },
    ]);
  });

  it('the ConfigMap holds a configuration the webhook accepts', () => {
    const text = find(base, 'ConfigMap', 'aigw-admission-config').data['config.yaml'];
    expect(new ConfigLoader(ALL_POLICIES).fromText(text, 'deploy ConfigMap').policies['stream-idle-zero']).toEqual({ mode: 'deny' });
  });

  it('the report-crds overlay holds the CRD of each report API the audit writes, serving the version it writes, and the ClusterRole may write both', () => {
    const crds = render('deploy/overlays/report-crds');
    const served = (crd: KubeObject & Record<string, any>) => // eslint-disable-line @typescript-eslint/no-explicit-any
      `${crd.spec.group} ${crd.spec.names.kind} ${crd.spec.names.plural} ${crd.spec.scope} ${(crd.spec.versions as Array<{ name: string; served: boolean }>).filter((v) => v.served).map((v) => v.name).join(',')}`;
    expect(crds.map((c) => served(c as never))).toEqual([
      'wgpolicyk8s.io PolicyReport policyreports Namespaced v1alpha2',
      'openreports.io Report reports Namespaced v1alpha1',
    ]);
    for (const api of [OPENREPORTS, WGPOLICY]) expect(served(find(crds, 'CustomResourceDefinition', `${api.plural}.${api.group}`))).toContain(api.version);
    // The reports are the background audit's: its optional ClusterRole may write both APIs (read and replace by name).
    const rules = find(render('deploy/overlays/audit'), 'ClusterRole', 'aigw-admission-audit').rules as Array<{ apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] }>;
    for (const api of [OPENREPORTS, WGPOLICY]) {
      expect(rules.filter((r) => r.apiGroups.includes(api.group))).toEqual([
        { apiGroups: [api.group], resources: [api.plural], resourceNames: ['aigw-admission'], verbs: ['get', 'update'] },
        { apiGroups: [api.group], resources: [api.plural], verbs: ['list', 'create'] },
      ]);
    }
  });
});
