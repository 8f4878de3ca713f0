import { checkObjects } from '../check/check.js';
import type { PolicySet } from '../review/policy-set.js';
import type { Logger } from '../review/deps.js';
import { AdmissionError } from '../review/errors.js';
import type { Finding, KubeObject } from '../kube/types.js';
import { MemoryWorld, type World } from '../world/world.js';
import { CLUSTER_KINDS, PROXY_POD_KIND, describeApiError } from '../world/cluster-world.js';
import { listAll, ListFailed, type ListedKind, type PageLister } from '../world/list-page.js';
import { KINDS, WORLD_KEYS } from '../kube/registry.js';
import { OWNING_GATEWAY_NAMESPACE_LABEL, type SidecarTemplate } from '../model/sidecar.js';
import { SIDECAR_DRIFT_POLICY, auditSidecars } from './sidecar-audit.js';

/** What the audit reads (src/kube/registry.ts: `audited`): the kinds the webhook's cache holds, plus Envoy Gateway's proxy pods. */
export const AUDIT_KINDS: readonly ListedKind[] = KINDS.filter((k) => k.audited);
export const AUDIT_PAGE_SIZE = 500;
const INJECT_POLICY = 'inject-extproc-sidecar';

export interface ListedCluster {
  /** Objects by world key. */
  objects: Map<string, KubeObject[]>;
  /** Kinds whose CRD is not installed (every version answered 404). */
  notInstalled: string[];
}

/**
 * Lists every audited kind in pages of `pageSize` (`limit` + `continue`), keeping only the items, never the pages.
 * With `namespace`, objects of that namespace and the proxy pods of its Gateways (they usually run in Envoy Gateway's
 * own namespace). A kind that is not installed is empty; any other failure is an error naming the kind.
 */
export async function listCluster(
  listPage: PageLister,
  opts: { namespace?: string; pageSize?: number; kinds?: readonly ListedKind[]; onProgress?: (kind: ListedKind, listed: number) => void } = {},
): Promise<ListedCluster> {
  const objects = new Map<string, KubeObject[]>();
  const notInstalled: string[] = [];
  for (const base of opts.kinds ?? AUDIT_KINDS) {
    const isPods = base.key === WORLD_KEYS.pod;
    const kind: ListedKind =
      isPods && opts.namespace !== undefined ? { ...base, labelSelector: `${base.labelSelector},${OWNING_GATEWAY_NAMESPACE_LABEL}=${opts.namespace}` } : base;
    const namespace = isPods ? undefined : opts.namespace;
    let listed;
    try {
      listed = await listAll(listPage, kind, { namespace, pageSize: opts.pageSize ?? AUDIT_PAGE_SIZE, onPage: (n) => opts.onProgress?.(kind, n) });
    } catch (err) {
      if (!(err instanceof ListFailed)) throw err;
      throw new AdmissionError('CLUSTER_REQUEST_FAILED', `${err.message}: ${describeApiError(err.cause)}`, { cause: err.cause });
    }
    objects.set(kind.key, listed?.items ?? []);
    if (!listed) notInstalled.push(kind.key);
  }
  return { objects, notInstalled };
}

export interface AuditOptions {
  policies: PolicySet;
  world: World;
  kubernetesMinor: number | undefined;
  now: () => Date;
  logger?: Logger;
}

export interface AuditResult {
  findings: Finding[];
  /** Every object evaluated (the pass results of the reports). */
  checked: KubeObject[];
  notes: string[];
}

/**
 * Judges cluster objects with every validating policy (the same core as `check`, the cluster as the world), and the
 * proxy pods of Gateways with AIGatewayRoutes for a missing or out-of-date ext_proc sidecar.
 */
export function auditObjects(objects: readonly KubeObject[], pods: readonly KubeObject[], opts: AuditOptions): AuditResult {
  const checked = checkObjects(
    objects.map((object) => ({ object })),
    { policies: opts.policies, world: opts.world, kubernetesMinor: opts.kubernetesMinor, now: opts.now, logger: opts.logger },
  );
  const notes = [...checked.notes];
  const findings: Finding[] = checked.findings.map(({ source: _source, location: _location, ...finding }) => finding);
  const inject = opts.policies.get(INJECT_POLICY);
  // A policy set without sidecar-drift registered at all (a caller's own selection) keeps its default mode.
  const drift = opts.policies.ids.has(SIDECAR_DRIFT_POLICY) ? opts.policies.get(SIDECAR_DRIFT_POLICY) : { mode: 'warn' as const };
  let podsChecked: KubeObject[] = [];
  if (inject && drift) {
    const sidecars = auditSidecars(pods, opts.world, { template: inject.params as SidecarTemplate, kubernetesMinor: opts.kubernetesMinor });
    const podOf = new Map(pods.map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, p]));
    for (const f of sidecars.findings) {
      // sidecar-drift is a registered policy: its mode comes from the config, and exemptions hold for it too.
      const exemption = opts.policies.exemption(SIDECAR_DRIFT_POLICY, podOf.get(`${f.resource.namespace}/${f.resource.name}`), f.resource.namespace);
      findings.push({ ...f, mode: drift.mode, ...(exemption ? { result: 'skip' as const, exemption } : {}) });
    }
    podsChecked = sidecars.checked;
  } else {
    notes.push(`${inject ? SIDECAR_DRIFT_POLICY : INJECT_POLICY} is disabled in the config: proxy pods were not checked for the ext_proc sidecar`);
  }
  return { findings, checked: [...objects, ...podsChecked], notes };
}

/**
 * The world the CLI audit judges: what it listed. Every listed kind is known in full from the API server's answer (its
 * CRD served, with objects or none; or not installed, so none can exist), exactly as the cache in `serve` knows it,
 * never from whether objects of it happen to exist.
 */
export function listedWorld(listed: ListedCluster, kubernetesMinor: number | undefined): MemoryWorld {
  return new MemoryWorld([...listed.objects.values()].flat(), { kubernetesMinor, complete: listed.objects.keys() });
}

const KIND_ORDER = new Map(AUDIT_KINDS.map((k, i) => [k.key.split('/')[1]!, i]));
const placeOf = (kind: string, namespace = '', name = '') => [KIND_ORDER.get(kind) ?? AUDIT_KINDS.length, namespace, name] as const;
function byPlace(a: readonly [number, string, string], b: readonly [number, string, string]): number {
  return a[0] - b[0] || a[1].localeCompare(b[1]) || a[2].localeCompare(b[2]);
}

/**
 * The one audit: `aigw-admission audit` (over what it listed) and the background audit in `serve` (over its cache) both
 * call this, so the same world gives the same findings, in the same order (kind, namespace, name; an object's findings
 * in policy order), and the same reports.
 */
export function auditWorld(world: World, opts: Omit<AuditOptions, 'world'>): AuditResult {
  const { objects, pods } = objectsOf((key) => world.list(key));
  const result = auditObjects(objects, pods, { ...opts, world });
  const findings = [...result.findings].sort((a, b) => byPlace(placeOf(a.resource.kind, a.resource.namespace, a.resource.name), placeOf(b.resource.kind, b.resource.namespace, b.resource.name)));
  const checked = [...result.checked].sort((a, b) =>
    byPlace(placeOf(String(a.kind), a.metadata?.namespace, a.metadata?.name), placeOf(String(b.kind), b.metadata?.namespace, b.metadata?.name)),
  );
  return { findings, checked, notes: result.notes };
}

/** The non-pod objects of a world, in the order of AUDIT_KINDS. */
export function objectsOf(lookup: (key: string) => readonly KubeObject[]): { objects: KubeObject[]; pods: KubeObject[] } {
  const objects: KubeObject[] = [];
  for (const k of CLUSTER_KINDS) objects.push(...lookup(k.key));
  return { objects, pods: [...lookup(WORLD_KEYS.pod)] };
}
