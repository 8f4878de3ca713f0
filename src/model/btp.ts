/**
 * The parts of an Envoy Gateway BackendTrafficPolicy (gateway.envoyproxy.io/v1alpha1) that decide fall-over: its
 * targets, `mergeType` and `retry` (EG v1.8.1 api/v1alpha1). Objects may be unvalidated, so every field is optional.
 */
import type { KubeObject } from '../kube/types.js';
import { GATEWAY_API_GROUP, attachesTo, parentGateways } from './parent-refs.js';
import { parseDuration } from './duration.js';

export { GATEWAY_API_GROUP };

export interface BtpTarget {
  group: string;
  kind: string;
  name: string;
  sectionName?: string;
  /** Path of the reference inside the BTP, e.g. `spec.targetRefs[0]`. */
  path: string;
}

export interface RetryOn {
  triggers?: string[];
  httpStatusCodes?: number[];
}

export interface RetrySpec {
  numRetries?: number;
  numAttemptsPerPriority?: number;
  retryOn?: RetryOn;
  perRetry?: { timeout?: string; backOff?: { baseInterval?: string; maxInterval?: string } };
}

export interface BtpRef {
  namespace: string;
  name: string;
}

/** A policy without `metadata.namespace` goes to `default`, as kubectl sends it. */
export function btpRef(btp: KubeObject): BtpRef {
  return { namespace: btp.metadata?.namespace || 'default', name: btp.metadata?.name ?? '' };
}

export const refLabel = (r: BtpRef): string => `${r.namespace}/${r.name}`;
export const sameRef = (a: BtpRef, b: BtpRef): boolean => a.namespace === b.namespace && a.name === b.name;

function spec(btp: KubeObject): Record<string, unknown> {
  const s = btp.spec;
  return s && typeof s === 'object' && !Array.isArray(s) ? (s as Record<string, unknown>) : {};
}

function readTarget(raw: unknown, path: string): BtpTarget | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.name !== 'string' || typeof r.kind !== 'string') return undefined;
  return {
    group: typeof r.group === 'string' ? r.group : '',
    kind: r.kind,
    name: r.name,
    sectionName: typeof r.sectionName === 'string' && r.sectionName ? r.sectionName : undefined,
    path,
  };
}

/** `spec.targetRefs[]` plus the older singular `spec.targetRef` (selectors: `btpSelectors`). */
export function btpTargets(btp: KubeObject): BtpTarget[] {
  const s = spec(btp);
  const out: BtpTarget[] = [];
  if (Array.isArray(s.targetRefs)) {
    s.targetRefs.forEach((t, i) => {
      const target = readTarget(t, `spec.targetRefs[${i}]`);
      if (target) out.push(target);
    });
  }
  const single = readTarget(s.targetRef, 'spec.targetRef');
  if (single) out.push(single);
  return out;
}

export type LabelRequirement = { key: string; operator: string; values: string[] };

export interface BtpSelector {
  group: string;
  kind: string;
  matchLabels: Record<string, string>;
  matchExpressions: LabelRequirement[];
  /** Path inside the BTP, e.g. `spec.targetSelectors[0]`. */
  path: string;
}

/** `spec.targetSelectors[]`: label selectors over objects of one kind (group defaults to Gateway API's). */
export function btpSelectors(btp: KubeObject): BtpSelector[] {
  const raw = spec(btp).targetSelectors;
  if (!Array.isArray(raw)) return [];
  const out: BtpSelector[] = [];
  raw.forEach((item, i) => {
    if (!item || typeof item !== 'object') return;
    const r = item as Record<string, unknown>;
    if (typeof r.kind !== 'string') return;
    const labels = r.matchLabels && typeof r.matchLabels === 'object' && !Array.isArray(r.matchLabels) ? (r.matchLabels as Record<string, unknown>) : {};
    const exprs = Array.isArray(r.matchExpressions) ? r.matchExpressions : [];
    out.push({
      group: typeof r.group === 'string' ? r.group : GATEWAY_API_GROUP,
      kind: r.kind,
      matchLabels: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)])),
      matchExpressions: exprs
        .filter((e): e is Record<string, unknown> => !!e && typeof e === 'object')
        .map((e) => ({ key: String(e.key ?? ''), operator: String(e.operator ?? ''), values: Array.isArray(e.values) ? e.values.map(String) : [] })),
      path: `spec.targetSelectors[${i}]`,
    });
  });
  return out;
}

/** Kubernetes label selector semantics (metav1.LabelSelectorAsSelector): an invalid requirement selects nothing. */
export function labelsMatch(sel: Pick<BtpSelector, 'matchLabels' | 'matchExpressions'>, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels)) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    switch (e.operator) {
      case 'In':
        if (e.values.length === 0 || !has || !e.values.includes(labels[e.key]!)) return false;
        break;
      case 'NotIn':
        if (e.values.length === 0 || (has && e.values.includes(labels[e.key]!))) return false;
        break;
      case 'Exists':
        if (e.values.length > 0 || !has) return false;
        break;
      case 'DoesNotExist':
        if (e.values.length > 0 || has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/**
 * The selector of `btp` that picks the HTTPRoute generated from `route`, if one does: AI Gateway copies the
 * AIGatewayRoute's labels onto it, and a selector matches only objects in the policy's own namespace.
 */
export function selectorOfRoute(btp: KubeObject, route: KubeObject): BtpSelector | undefined {
  if (btpRef(btp).namespace !== (route.metadata?.namespace ?? '')) return undefined;
  const labels = (route.metadata?.labels ?? {}) as Record<string, string>;
  return btpSelectors(btp).find((s) => s.kind === 'HTTPRoute' && s.group === GATEWAY_API_GROUP && labelsMatch(s, labels));
}

export const isHTTPRouteTarget = (t: BtpTarget): boolean => t.kind === 'HTTPRoute' && t.group === GATEWAY_API_GROUP;
export const isGatewayTarget = (t: BtpTarget): boolean => t.kind === 'Gateway' && t.group === GATEWAY_API_GROUP;

/**
 * The namespaces whose BTPs can attach to a route: its own (HTTPRoute targets and selectors are namespace-local) and
 * those of its parent Gateways (a Gateway-level policy lives beside its Gateway). A review lists only these, so its cost
 * does not grow with the BTPs of the rest of the cluster.
 */
export function btpNamespacesOf(route: KubeObject): string[] {
  // A loop, not a Set of spread arrays: this runs for every route review, and nearly always finds one namespace.
  const namespaces = [route.metadata?.namespace ?? ''];
  for (const g of parentGateways(route)) if (!namespaces.includes(g.namespace)) namespaces.push(g.namespace);
  return namespaces;
}

/**
 * Where the routes a BTP reaches can live: its own namespace only, unless it targets a Gateway (routes of any namespace
 * may attach to that). Undefined means every namespace.
 */
export function routeNamespaceOf(btp: KubeObject): string | undefined {
  return btpTargets(btp).some(isGatewayTarget) ? undefined : btpRef(btp).namespace;
}

/**
 * The AIGatewayRoutes (of `routes`) a BTP reaches: by HTTPRoute name or label selector in its namespace, or through
 * a Gateway they attach to.
 */
export function routesReachedBy(btp: KubeObject, routes: KubeObject[]): KubeObject[] {
  const ns = btpRef(btp).namespace;
  const targets = btpTargets(btp);
  return routes.filter((r) => {
    const rns = r.metadata?.namespace ?? '';
    if (rns === ns && targets.some((t) => isHTTPRouteTarget(t) && t.name === r.metadata?.name)) return true;
    if (selectorOfRoute(btp, r)) return true;
    return targets.some((t) => isGatewayTarget(t) && attachesTo(r, { namespace: ns, name: t.name }));
  });
}

/** The BTPs as they will be once `incoming` is stored (it replaces its older self). */
export function btpsWith(btps: KubeObject[], incoming: KubeObject | null): KubeObject[] {
  if (!incoming || incoming.kind !== 'BackendTrafficPolicy') return btps;
  const ref = btpRef(incoming);
  return [...btps.filter((b) => !sameRef(btpRef(b), ref)), incoming];
}

/**
 * Zone-aware load balancing (`loadBalancer.zoneAware.preferLocal` or `.weightedZones`): Envoy Gateway then builds one
 * cluster per backend (ir/xds.go `NeedsClusterPerSetting`). Returns the field that is set.
 */
export function zoneAwareField(loadBalancer: unknown): string | undefined {
  const za = (loadBalancer as { zoneAware?: { preferLocal?: unknown; weightedZones?: unknown } } | undefined)?.zoneAware;
  if (!za || typeof za !== 'object') return undefined;
  if (za.preferLocal !== undefined && za.preferLocal !== null) return 'spec.loadBalancer.zoneAware.preferLocal';
  if (Array.isArray(za.weightedZones) && za.weightedZones.length > 0) return 'spec.loadBalancer.zoneAware.weightedZones';
  return undefined;
}

export function btpLoadBalancer(btp: KubeObject): unknown {
  return spec(btp).loadBalancer;
}

/** A value the BTP CRD accepts but Envoy Gateway refuses when it translates the policy (then it is not applied). */
export interface RefusedValue {
  path: string;
  value: string;
  /** Envoy Gateway's own error text. */
  error: string;
}

/**
 * Envoy Gateway v1.8.1 `buildRetry` (internal/gatewayapi/clustersettings.go): a zero back-off interval, or a maxInterval
 * below baseInterval, makes the whole policy Invalid. The CRD's pattern accepts them. (Every other retry and timeout
 * duration the CRD's pattern admits parses in Go, so `buildClusterSettingsTimeout` refuses none.)
 */
export function refusedValues(btp: KubeObject): RefusedValue[] {
  const out: RefusedValue[] = [];
  const bo = btpRetry(btp)?.perRetry?.backOff;
  if (!bo || typeof bo !== 'object' || (bo.baseInterval === undefined && bo.maxInterval === undefined)) return out;
  const ms = (v: unknown): number | undefined => {
    const d = typeof v === 'string' ? parseDuration(v) : undefined;
    return d?.ok ? d.ms : undefined;
  };
  const base = ms(bo.baseInterval);
  const max = ms(bo.maxInterval);
  const at = (field: 'baseInterval' | 'maxInterval', error: string) =>
    out.push({ path: `spec.retry.perRetry.backOff.${field}`, value: String(bo[field]), error });
  // Go returns on the first error, in this order.
  if (base === 0) at('baseInterval', 'baseInterval cannot be set to 0s');
  else if (max === 0) at('maxInterval', 'maxInterval cannot be set to 0s');
  else if (base !== undefined && max !== undefined && base > max) at('maxInterval', 'maxInterval cannot be less than baseInterval');
  return out;
}

/** `StrategicMerge` or `JSONMerge` when set (CEL forbids `Replace` on a BTP). */
export function btpMergeType(btp: KubeObject): string | undefined {
  const m = spec(btp).mergeType;
  return typeof m === 'string' && m ? m : undefined;
}

export function btpRetry(btp: KubeObject): RetrySpec | undefined {
  const r = spec(btp).retry;
  return r && typeof r === 'object' && !Array.isArray(r) ? (r as RetrySpec) : undefined;
}

/** `timeout.http.requestTimeout`, which Envoy Gateway ignores on routes that carry their own timeout (every AIGR route). */
export function btpRequestTimeout(btp: KubeObject): string | undefined {
  const t = (spec(btp).timeout as { http?: { requestTimeout?: unknown } } | undefined)?.http?.requestTimeout;
  return typeof t === 'string' ? t : undefined;
}

/** JSON merge (RFC 7386): objects merge key by key, arrays and scalars replace, null deletes. */
export function jsonMerge(base: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = base && typeof base === 'object' && !Array.isArray(base) ? { ...(base as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = jsonMerge(out[k], v);
  }
  return out;
}

/** BTPs sorted the way Envoy Gateway breaks ties between policies on one target: oldest first, then namespace/name. */
export function byAge(a: KubeObject, b: KubeObject): number {
  const ta = a.metadata?.creationTimestamp ?? '';
  const tb = b.metadata?.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return refLabel(btpRef(a)).localeCompare(refLabel(btpRef(b)));
}
