import { checkObjects } from '../check/check.js';
import type { PolicySet } from '../review/policy-set.js';
import type { Logger } from '../review/deps.js';
import { AdmissionError } from '../review/errors.js';
import type { Finding, KubeObject } from '../kube/types.js';
import type { World } from '../world/world.js';
import { NamespacedStore } from '../world/store.js';
import { MemoryWorld } from '../world/world.js';
import { slimForCache, StringTable } from '../world/slim.js';
import { CLUSTER_KINDS, describeApiError } from '../world/cluster-world.js';
import { LIST_PAGE_SIZE, listEach, ListFailed, type ListedKind, type PageLister } from '../world/list-page.js';
import { KINDS, WORLD_KEYS } from '../kube/registry.js';
import { OWNING_GATEWAY_NAMESPACE_LABEL, type SidecarTemplate } from '../model/sidecar.js';
import { SIDECAR_DRIFT_POLICY, auditSidecars } from './sidecar-audit.js';

/** What the audit reads (src/kube/registry.ts: `audited`): the kinds the webhook's cache holds, plus Envoy Gateway's proxy pods. */
export const AUDIT_KINDS: readonly ListedKind[] = KINDS.filter((k) => k.audited);
export const AUDIT_PAGE_SIZE = LIST_PAGE_SIZE;
const INJECT_POLICY = 'inject-extproc-sidecar';

export interface ListedCluster {
  /** Objects by world key, slimmed as the cache slims them (slimForCache), indexed by namespace and name. */
  stores: Map<string, NamespacedStore>;
  /** Kinds whose CRD is not installed (every version answered 404). */
  notInstalled: string[];
}

/**
 * Lists every audited kind in pages of `pageSize` (`limit` + `continue`). Each object is slimmed as its page arrives,
 * exactly as serve's cache slims it, and stored by namespace and name; no page is kept, so the audit holds the cluster
 * in the form serve's cache holds it and never the objects as served.
 * With `namespace`, objects of that namespace and the proxy pods of its Gateways (they usually run in Envoy Gateway's
 * own namespace). A kind that is not installed is empty; any other failure is an error naming the kind.
 */
export async function listCluster(
  listPage: PageLister,
  opts: { namespace?: string; pageSize?: number; kinds?: readonly ListedKind[]; onProgress?: (kind: ListedKind, listed: number) => void } = {},
): Promise<ListedCluster> {
  const stores = new Map<string, NamespacedStore>();
  const notInstalled: string[] = [];
  const strings = new StringTable();
  for (const base of opts.kinds ?? AUDIT_KINDS) {
    const isPods = base.key === WORLD_KEYS.pod;
    const kind: ListedKind =
      isPods && opts.namespace !== undefined ? { ...base, labelSelector: `${base.labelSelector},${OWNING_GATEWAY_NAMESPACE_LABEL}=${opts.namespace}` } : base;
    const namespace = isPods ? undefined : opts.namespace;
    let store = new NamespacedStore();
    let version;
    try {
      version = await listEach(listPage, kind, { namespace, pageSize: opts.pageSize ?? AUDIT_PAGE_SIZE, onPage: (n) => opts.onProgress?.(kind, n) }, () => {
        store = new NamespacedStore();
        return (o) => store.set(slimForCache(o, strings));
      });
    } catch (err) {
      if (!(err instanceof ListFailed)) throw err;
      throw new AdmissionError('CLUSTER_REQUEST_FAILED', `${err.message}: ${describeApiError(err.cause)}`, { cause: err.cause });
    }
    if (version === undefined) {
      store = new NamespacedStore();
      notInstalled.push(kind.key);
    }
    stores.set(kind.key, store);
  }
  return { stores, notInstalled };
}

export interface AuditOptions {
  policies: PolicySet;
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

/** Where the audit hands each finding and each object judged, in the audit's order, as it goes. */
export interface AuditSink {
  finding(finding: Finding): void;
  /** An object judged (with or without findings: the pass results of the reports). */
  checked(object: KubeObject): void;
}

export interface AuditSummary {
  objects: number;
  findings: number;
  notes: string[];
}

/**
 * The world the CLI audit judges: what it listed. Every listed kind is known in full from the API server's answer (its
 * CRD served, with objects or none; or not installed, so none can exist), exactly as the cache in `serve` knows it,
 * never from whether objects of it happen to exist.
 */
export function listedWorld(listed: ListedCluster, kubernetesMinor: number | undefined): MemoryWorld {
  return MemoryWorld.fromStores(listed.stores, kubernetesMinor);
}

type Place = readonly [number, string, string];
const KIND_ORDER = new Map(AUDIT_KINDS.map((k, i) => [k.key.split('/')[1]!, i]));
const placeOf = (kind: string, namespace = '', name = ''): Place => [KIND_ORDER.get(kind) ?? AUDIT_KINDS.length, namespace, name];
const placeOfObject = (o: KubeObject) => placeOf(String(o.kind), o.metadata?.namespace, o.metadata?.name);
const placeOfFinding = (f: Finding) => placeOf(f.resource.kind, f.resource.namespace, f.resource.name);
function byPlace(a: Place, b: Place): number {
  return a[0] - b[0] || a[1].localeCompare(b[1]) || a[2].localeCompare(b[2]);
}
/** Stable: equal places keep their order. */
const sortedByPlace = <T>(items: readonly T[], place: (item: T) => Place) =>
  items.map((item) => ({ item, place: place(item) })).sort((a, b) => byPlace(a.place, b.place));

/**
 * The one audit: `aigw-admission audit` (over what it listed) and the background audit in `serve` (over its cache) both
 * call this, so the same world gives the same findings, in the same order (kind, namespace, name; an object's findings
 * in policy order), and the same reports. Every validating policy judges each object (the same core as `check`, the
 * world for cross-references), and the sidecar audit the proxy pods of Gateways with AIGatewayRoutes.
 *
 * With a `sink`, findings and judged objects are handed over one object at a time and nothing is kept here: a caller
 * that only counts, or folds them into reports, holds no list of findings. Without one, both lists are returned.
 */
export function auditWorld(world: World, opts: AuditOptions): AuditResult;
export function auditWorld(world: World, opts: AuditOptions, sink: AuditSink): AuditSummary;
export function auditWorld(world: World, opts: AuditOptions, sink?: AuditSink): AuditResult | AuditSummary {
  if (!sink) {
    const findings: Finding[] = [];
    const checked: KubeObject[] = [];
    const { notes } = auditWorld(world, opts, { finding: (f) => findings.push(f), checked: (o) => checked.push(o) });
    return { findings, checked, notes };
  }
  const batches = auditBatches(world, opts, sink);
  for (;;) {
    const next = batches.next();
    if (next.done) return next.value;
  }
}

/**
 * `auditWorld` one object at a time: yields the findings of each object judged that has some (after those of the proxy
 * pods that come before it), once `sink` has been handed them, and judges the next object only when asked. So a
 * caller can write an object's findings out before the next is judged. Each batch holds all the findings of its
 * objects: every finding of one object is in the same batch.
 */
export function* auditBatches(world: World, opts: AuditOptions, sink?: AuditSink): Generator<Finding[], AuditSummary> {
  const notes = new Set<string>();
  const sidecars = sidecarAudit(world, opts);
  const podFindings = sortedByPlace(sidecars.findings, placeOfFinding);
  const podsChecked = sortedByPlace(sidecars.checked, placeOfObject);
  let nextFinding = 0;
  let nextPod = 0;
  let findings = 0;
  let batch: Finding[] = [];
  const emit = (f: Finding) => {
    findings++;
    batch.push(f);
    sink?.finding(f);
  };
  // Pods before an object at `place` come first; at the same place the objects' own come first (as a stable sort of all).
  const podsBefore = (place: Place | undefined) => {
    while (nextFinding < podFindings.length && (!place || byPlace(podFindings[nextFinding]!.place, place) < 0)) emit(podFindings[nextFinding++]!.item);
    while (nextPod < podsChecked.length && (!place || byPlace(podsChecked[nextPod]!.place, place) < 0)) {
      // Taken out first: `sink?.checked(…)` skips evaluating its argument, and with it the increment, when there is no sink.
      const pod = podsChecked[nextPod++]!.item;
      sink?.checked(pod);
    }
  };
  const objects = sortedByPlace(
    CLUSTER_KINDS.flatMap((k) => world.list(k.key)),
    placeOfObject,
  );
  for (let index = 0; index < objects.length; index++) {
    const { item: object, place } = objects[index]!;
    podsBefore(place);
    const checked = checkObjects([{ object }], { policies: opts.policies, world, kubernetesMinor: opts.kubernetesMinor, now: opts.now, logger: opts.logger, firstIndex: index });
    for (const n of checked.notes) notes.add(n);
    for (const { source: _source, location: _location, ...finding } of checked.findings) emit(finding);
    sink?.checked(object);
    if (batch.length > 0) {
      yield batch;
      batch = [];
    }
  }
  podsBefore(undefined);
  if (batch.length > 0) yield batch;
  if (sidecars.note) notes.add(sidecars.note);
  return { objects: objects.length + podsChecked.length, findings, notes: [...notes] };
}

/** The ext_proc sidecar of the proxy pods in the world, judged by sidecar-drift (its mode, its exemptions). */
function sidecarAudit(world: World, opts: AuditOptions): { findings: Finding[]; checked: KubeObject[]; note?: string } {
  const inject = opts.policies.get(INJECT_POLICY);
  // A policy set without sidecar-drift registered at all (a caller's own selection) keeps its default mode.
  const drift = opts.policies.ids.has(SIDECAR_DRIFT_POLICY) ? opts.policies.get(SIDECAR_DRIFT_POLICY) : { mode: 'warn' as const };
  if (!inject || !drift) {
    return { findings: [], checked: [], note: `${inject ? SIDECAR_DRIFT_POLICY : INJECT_POLICY} is disabled in the config: proxy pods were not checked for the ext_proc sidecar` };
  }
  const pods = world.list(WORLD_KEYS.pod);
  const sidecars = auditSidecars(pods, world, { template: inject.params as SidecarTemplate, kubernetesMinor: opts.kubernetesMinor });
  const podOf = new Map(pods.map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, p]));
  const findings = sidecars.findings.map((f) => {
    // sidecar-drift is a registered policy: its mode comes from the config, and exemptions hold for it too.
    const exemption = opts.policies.exemption(SIDECAR_DRIFT_POLICY, podOf.get(`${f.resource.namespace}/${f.resource.name}`), f.resource.namespace);
    return { ...f, mode: drift.mode, ...(exemption ? { result: 'skip' as const, exemption } : {}) };
  });
  return { findings, checked: sidecars.checked };
}
