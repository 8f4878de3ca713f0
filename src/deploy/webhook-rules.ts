import { stringify } from 'yaml';
import { AdmissionError } from '../review/errors.js';
import { OPERATIONS, type Endpoint, type Operation } from '../kube/types.js';
import type { AnyPolicy, KindMatch } from '../review/policy.js';
import { OWN_NAMES } from '../kube/registry.js';

/** Names the manifests in deploy/ use; the certificate manager patches the webhook configurations by these names. */
export const DEPLOY_NAMES = OWN_NAMES;

/** Pods the webhook may see: the Envoy proxies Envoy Gateway creates, and nothing else. */
export const POD_OBJECT_SELECTOR = { matchLabels: { 'app.kubernetes.io/managed-by': 'envoy-gateway' } } as const;

export interface WebhookRule {
  apiGroups: string[];
  apiVersions: string[];
  operations: Operation[];
  resources: string[];
  scope: 'Namespaced';
}

/** One webhook entry of a configuration: a set of rules sent to one path, with its own failure policy. */
export interface WebhookEntrySpec {
  /** Fully qualified, unique within its configuration. */
  name: string;
  endpoint: Endpoint;
  /** Which of the policies' kinds this entry carries. */
  carries(kind: KindMatch): boolean;
  /** Which operations this entry carries (default: all). */
  operations?: readonly Operation[];
  /** The policy a ready replica holds the entry at; deploy/ installs every entry as Ignore (install safety). */
  failurePolicy: 'Fail' | 'Ignore';
  timeoutSeconds: number;
  objectSelector?: unknown;
  reinvocationPolicy?: 'Never' | 'IfNeeded';
}

const isPod = (k: KindMatch) => k.group === '' && k.resource === 'pods';

/**
 * The entries, and their failure policies (README "Deploying to a cluster" says why):
 * - validate, gateway kinds, DELETE: Ignore. Only warn-mode checks run on deletes (orphaned references); a webhook
 *   outage must never keep anyone from deleting a route.
 * - validate, gateway kinds, CREATE/UPDATE: Fail. Only AI Gateway / Envoy Gateway objects are matched, so an outage blocks writes of
 *   those few kinds and nothing else, while Ignore would let the configurations the policies exist to stop through.
 * - mutate, gateway kinds: Ignore. The defaults are conveniences; the route is valid without them and the validating
 *   webhook still judges it.
 * - mutate, pods: Fail. An Envoy pod created without its ext_proc sidecar serves errors for every AI route; refusing the
 *   pod keeps the old ReplicaSet's pods serving until the webhook is back.
 */
export const WEBHOOK_ENTRIES: readonly WebhookEntrySpec[] = [
  { name: 'gateway.validate.aigw-admission.io', endpoint: 'validate', carries: (k) => !isPod(k), operations: ['CREATE', 'UPDATE', 'CONNECT'], failurePolicy: 'Fail', timeoutSeconds: 5 },
  { name: 'gateway-deletes.validate.aigw-admission.io', endpoint: 'validate', carries: (k) => !isPod(k), operations: ['DELETE'], failurePolicy: 'Ignore', timeoutSeconds: 5 },
  { name: 'pods.validate.aigw-admission.io', endpoint: 'validate', carries: isPod, failurePolicy: 'Ignore', timeoutSeconds: 5, objectSelector: POD_OBJECT_SELECTOR },
  { name: 'gateway.mutate.aigw-admission.io', endpoint: 'mutate', carries: (k) => !isPod(k), failurePolicy: 'Ignore', timeoutSeconds: 5, reinvocationPolicy: 'Never' },
  {
    name: 'pods.mutate.aigw-admission.io',
    endpoint: 'mutate',
    carries: isPod,
    failurePolicy: 'Fail',
    timeoutSeconds: 5,
    objectSelector: POD_OBJECT_SELECTOR,
    // Another webhook (a mesh, a registry rewriter) may add containers after us; run again so the sidecar still fits.
    reinvocationPolicy: 'IfNeeded',
  },
];

/**
 * The rules for one endpoint, restricted to the kinds `carries` accepts: one rule per (group, resource) with the union
 * of the versions and operations every policy of that endpoint declares for it, in a stable order.
 */
export function rulesFor(
  policies: readonly AnyPolicy[],
  endpoint: Endpoint,
  carries: (k: KindMatch) => boolean = () => true,
  operations: readonly Operation[] = OPERATIONS,
): WebhookRule[] {
  const byResource = new Map<string, { group: string; resource: string; versions: Set<string>; operations: Set<Operation> }>();
  for (const policy of policies) {
    if (policy.endpoint !== endpoint) continue;
    const ops = policy.match.operations.filter((o) => operations.includes(o));
    if (ops.length === 0) continue;
    for (const kind of policy.match.kinds) {
      if (!carries(kind)) continue;
      if (!kind.resource || kind.versions.length === 0) {
        throw new Error(`policy ${policy.id}: kind ${kind.group || 'core'}/${kind.kind} declares no resource or versions; the webhook rules cannot be written`);
      }
      const key = `${kind.group}/${kind.resource}`;
      const entry = byResource.get(key) ?? { group: kind.group, resource: kind.resource, versions: new Set(), operations: new Set() };
      kind.versions.forEach((v) => entry.versions.add(v));
      ops.forEach((o) => entry.operations.add(o));
      byResource.set(key, entry);
    }
  }
  return [...byResource.values()]
    .sort((a, b) => a.group.localeCompare(b.group) || a.resource.localeCompare(b.resource))
    .map((e) => ({
      apiGroups: [e.group],
      apiVersions: [...e.versions].sort(),
      operations: OPERATIONS.filter((o) => e.operations.has(o)),
      resources: [e.resource],
      scope: 'Namespaced' as const,
    }));
}

type Kind = 'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration';

/** Entry name → the failure policy a ready replica holds it at (WEBHOOK_ENTRIES). */
export const FAILURE_POLICY_WHEN_READY: ReadonlyMap<string, 'Fail' | 'Ignore'> = new Map(WEBHOOK_ENTRIES.map((e) => [e.name, e.failurePolicy]));

/**
 * FAILURE_POLICY_WHEN_READY with some entries held at Ignore (`serve --keep-ignore`): with the ValidatingAdmissionPolicies
 * of deploy/overlays/vap installed, the AI Gateway entry may stay at Ignore (README "Defence in depth"). An unknown
 * entry name is a user error naming the flag.
 */
export function failurePolicyWhenReady(keepIgnore: readonly string[]): ReadonlyMap<string, 'Fail' | 'Ignore'> {
  const unknown = keepIgnore.filter((n) => !FAILURE_POLICY_WHEN_READY.has(n));
  if (unknown.length > 0) {
    throw new AdmissionError('INVALID_INPUT_FILE', `--keep-ignore ${unknown.join(', ')}: no such webhook entry; use one of ${[...FAILURE_POLICY_WHEN_READY.keys()].join(', ')}`);
  }
  return new Map([...FAILURE_POLICY_WHEN_READY].map(([name, policy]) => [name, keepIgnore.includes(name) ? 'Ignore' : policy]));
}

/** One webhook configuration with an entry for each WEBHOOK_ENTRIES item of the endpoint that has rules. */
export function webhookConfiguration(policies: readonly AnyPolicy[], endpoint: Endpoint): Record<string, unknown> {
  const kind: Kind = endpoint === 'validate' ? 'ValidatingWebhookConfiguration' : 'MutatingWebhookConfiguration';
  const webhooks = WEBHOOK_ENTRIES.filter((e) => e.endpoint === endpoint).flatMap((e) => {
    const rules = rulesFor(policies, endpoint, e.carries, e.operations);
    if (rules.length === 0) return [];
    return [
      {
        name: e.name,
        admissionReviewVersions: ['v1'],
        // caBundle is filled in at run time: by the webhook itself (--manage-certs) or by cert-manager's CA injector.
        clientConfig: { service: { name: DEPLOY_NAMES.service, namespace: DEPLOY_NAMES.namespace, path: `/${endpoint}`, port: 443 } },
        rules,
        // Installed as Ignore so that nothing is refused before a pod can answer; a ready replica raises each entry to
        // its declared policy (src/cluster/failure-policy.ts, README "Install safety").
        failurePolicy: 'Ignore',
        matchPolicy: 'Equivalent',
        namespaceSelector: {
          matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', DEPLOY_NAMES.namespace] }],
        },
        ...(e.objectSelector ? { objectSelector: e.objectSelector } : {}),
        sideEffects: 'NoneOnDryRun',
        timeoutSeconds: e.timeoutSeconds,
        ...(endpoint === 'mutate' ? { reinvocationPolicy: e.reinvocationPolicy ?? 'Never' } : {}),
      },
    ];
  });
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind,
    metadata: { name: DEPLOY_NAMES.webhookConfiguration, labels: { 'app.kubernetes.io/name': 'aigw-admission' } },
    webhooks,
  };
}

/** deploy/ file name → content, exactly as `npm run gen:deploy` writes them. */
export function generatedDeployFiles(policies: readonly AnyPolicy[]): Record<string, string> {
  const header = (what: string) =>
    `# Generated by \`npm run gen:deploy\` from the policies' match declarations (policies/index.ts). Do not edit:\n` +
    `# change a policy's match, then regenerate. ${what}\n`;
  return {
    'validating-webhook-configuration.yaml':
      header('Rules for POST /validate.') + stringify(webhookConfiguration(policies, 'validate'), { lineWidth: 0 }),
    'mutating-webhook-configuration.yaml':
      header('Rules for POST /mutate.') + stringify(webhookConfiguration(policies, 'mutate'), { lineWidth: 0 }),
  };
}
