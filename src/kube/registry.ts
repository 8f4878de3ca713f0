/**
 * Every Kubernetes kind the project knows, in one place: what policies match, what the cluster cache lists and watches,
 * what the audit lists, what `explain --route` and `check` read, and every API call the code makes (who makes it, with
 * which verbs). The RBAC in deploy/ is generated from the calls (`npm run gen:deploy`); a test keeps them in sync.
 * Adding a cluster read is one line here.
 */

/** Names the manifests in deploy/ give the project's own objects (RBAC narrows some rights to them by name). */
export const OWN_NAMES = {
  namespace: 'aigw-admission',
  service: 'aigw-admission',
  webhookConfiguration: 'aigw-admission',
  certSecret: 'aigw-admission-tls',
  /** One PolicyReport per namespace, always this name. */
  report: 'aigw-admission',
} as const;

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

/**
 * Who makes a call, which decides whose rights it needs:
 * - `webhook`: `serve` in cluster mode (the Deployment's ClusterRole `aigw-admission`);
 * - `manage-certs`: `serve --manage-certs` (Role `aigw-admission-certs`, and the webhook configurations by name);
 * - `background-audit`: `serve` with `audit.intervalSeconds` > 0 (the optional ClusterRole `aigw-admission-audit`);
 * - `cli`: the CLI verbs, with the user's own credentials (no RBAC of ours).
 */
export type Caller = 'webhook' | 'manage-certs' | 'background-audit' | 'cli';

export interface ApiUse {
  by: Caller;
  verbs: readonly Verb[];
  /** Only these objects (RBAC `resourceNames`; it cannot narrow create or list). */
  resourceNames?: readonly string[];
}

export interface KnownKind {
  /** World key: `group/Kind` (`/Pod` for the core group). */
  key: string;
  group: string;
  kind: string;
  plural: string;
  /** Served versions, preferred first: readers try them in order, the first one served wins. */
  versions: readonly string[];
  namespaced: boolean;
  /** Held by the webhook's cluster cache: always, or only while the background audit runs. */
  cached?: 'always' | 'with-audit';
  /** Listed by `audit` (CLI and background). */
  audited?: boolean;
  /** Only objects with these labels are read (`k=v,...`). */
  labelSelector?: string;
  /** Every API call the code makes on this kind. */
  uses: readonly ApiUse[];
}

const CACHED_READ: readonly ApiUse[] = [
  { by: 'webhook', verbs: ['list', 'watch'] },
  { by: 'cli', verbs: ['list'] },
];

const OWN_CONFIGURATION: readonly ApiUse[] = [
  { by: 'webhook', verbs: ['get', 'patch'], resourceNames: [OWN_NAMES.webhookConfiguration] },
  { by: 'manage-certs', verbs: ['get', 'patch'], resourceNames: [OWN_NAMES.webhookConfiguration] },
];

export const KINDS: readonly KnownKind[] = [
  { key: 'aigateway.envoyproxy.io/AIGatewayRoute', group: 'aigateway.envoyproxy.io', kind: 'AIGatewayRoute', plural: 'aigatewayroutes', versions: ['v1beta1', 'v1alpha1'], namespaced: true, cached: 'always', audited: true, uses: CACHED_READ },
  { key: 'aigateway.envoyproxy.io/AIServiceBackend', group: 'aigateway.envoyproxy.io', kind: 'AIServiceBackend', plural: 'aiservicebackends', versions: ['v1beta1', 'v1alpha1'], namespaced: true, cached: 'always', audited: true, uses: CACHED_READ },
  { key: 'gateway.envoyproxy.io/EnvoyPatchPolicy', group: 'gateway.envoyproxy.io', kind: 'EnvoyPatchPolicy', plural: 'envoypatchpolicies', versions: ['v1alpha1'], namespaced: true, cached: 'always', audited: true, uses: CACHED_READ },
  { key: 'gateway.envoyproxy.io/BackendTrafficPolicy', group: 'gateway.envoyproxy.io', kind: 'BackendTrafficPolicy', plural: 'backendtrafficpolicies', versions: ['v1alpha1'], namespaced: true, cached: 'always', audited: true, uses: CACHED_READ },
  { key: 'gateway.envoyproxy.io/Backend', group: 'gateway.envoyproxy.io', kind: 'Backend', plural: 'backends', versions: ['v1alpha1'], namespaced: true, cached: 'always', audited: true, uses: CACHED_READ },
  // Plain HTTPRoutes, so names and BTP targets that belong to a non-AI route are not reported as misses.
  { key: 'gateway.networking.k8s.io/HTTPRoute', group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', plural: 'httproutes', versions: ['v1'], namespaced: true, cached: 'always', audited: true, uses: CACHED_READ },
  // Envoy Gateway's proxy pods: what the audit checks for the ext_proc sidecar (the inject policy matches every pod).
  {
    key: '/Pod',
    group: '',
    kind: 'Pod',
    plural: 'pods',
    versions: ['v1'],
    namespaced: true,
    cached: 'with-audit',
    audited: true,
    labelSelector: 'app.kubernetes.io/managed-by=envoy-gateway',
    uses: [
      { by: 'background-audit', verbs: ['list', 'watch'] },
      { by: 'cli', verbs: ['list'] },
    ],
  },
  // `check` validates against the CRDs the cluster serves.
  { key: 'apiextensions.k8s.io/CustomResourceDefinition', group: 'apiextensions.k8s.io', kind: 'CustomResourceDefinition', plural: 'customresourcedefinitions', versions: ['v1'], namespaced: false, uses: [{ by: 'cli', verbs: ['list'] }] },
  // Warning Events about the objects the policies judged.
  { key: 'events.k8s.io/Event', group: 'events.k8s.io', kind: 'Event', plural: 'events', versions: ['v1'], namespaced: true, uses: [{ by: 'webhook', verbs: ['create'] }] },
  // One report per namespace, read and replaced in place by name; emptied, never deleted. Create and list (by label,
  // and the one-item list that tells which report API the cluster serves) cannot be narrowed by name. Both report APIs:
  // openreports.io (Kyverno 1.15+, Policy Reporter) and wgpolicyk8s.io, whichever audit.reports picks.
  ...(
    [
      ['openreports.io', 'Report', 'reports', 'v1alpha1'],
      ['wgpolicyk8s.io', 'PolicyReport', 'policyreports', 'v1alpha2'],
    ] as const
  ).map(
    ([group, kind, plural, version]): KnownKind => ({
      key: `${group}/${kind}`,
      group,
      kind,
      plural,
      versions: [version],
      namespaced: true,
      uses: [
        { by: 'background-audit', verbs: ['get', 'update'], resourceNames: [OWN_NAMES.report] },
        { by: 'background-audit', verbs: ['create', 'list'] },
        { by: 'cli', verbs: ['get', 'update', 'create', 'list'] },
      ],
    }),
  ),
  // The serving certificate's Secret. Create names its object only in the body, which RBAC does not see.
  {
    key: '/Secret',
    group: '',
    kind: 'Secret',
    plural: 'secrets',
    versions: ['v1'],
    namespaced: true,
    uses: [
      { by: 'manage-certs', verbs: ['get', 'update'], resourceNames: [OWN_NAMES.certSecret] },
      { by: 'manage-certs', verbs: ['create'] },
    ],
  },
  // Only the project's own configurations (polled with get, which resourceNames narrows): a ready replica raises their
  // failurePolicy (src/cluster/failure-policy.ts), and --manage-certs puts the caBundle in.
  { key: 'admissionregistration.k8s.io/ValidatingWebhookConfiguration', group: 'admissionregistration.k8s.io', kind: 'ValidatingWebhookConfiguration', plural: 'validatingwebhookconfigurations', versions: ['v1'], namespaced: false, uses: OWN_CONFIGURATION },
  { key: 'admissionregistration.k8s.io/MutatingWebhookConfiguration', group: 'admissionregistration.k8s.io', kind: 'MutatingWebhookConfiguration', plural: 'mutatingwebhookconfigurations', versions: ['v1'], namespaced: false, uses: OWN_CONFIGURATION },
];

const BY_KEY = new Map(KINDS.map((k) => [k.key, k]));

/** The registry entry of a world key (`group/Kind`); a key that is not registered is a programming error. */
export function knownKind(key: string): KnownKind {
  const k = BY_KEY.get(key);
  if (!k) throw new Error(`kind ${key} is not in src/kube/registry.ts`);
  return k;
}

/** World keys (`group/Kind`) of the kinds policies and the world look up. */
export const WORLD_KEYS = {
  aiGatewayRoute: knownKind('aigateway.envoyproxy.io/AIGatewayRoute').key,
  aiServiceBackend: knownKind('aigateway.envoyproxy.io/AIServiceBackend').key,
  envoyPatchPolicy: knownKind('gateway.envoyproxy.io/EnvoyPatchPolicy').key,
  backendTrafficPolicy: knownKind('gateway.envoyproxy.io/BackendTrafficPolicy').key,
  backend: knownKind('gateway.envoyproxy.io/Backend').key,
  httpRoute: knownKind('gateway.networking.k8s.io/HTTPRoute').key,
  pod: knownKind('/Pod').key,
} as const;

/** The `apiVersion` of a kind at a version (`v1` for the core group). */
export function apiVersionOf(kind: Pick<KnownKind, 'group'>, version: string): string {
  return kind.group ? `${kind.group}/${version}` : version;
}
