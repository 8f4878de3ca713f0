/**
 * The parts of an Envoy Gateway BackendTrafficPolicy (gateway.envoyproxy.io/v1alpha1) that decide fall-over: its
 * targets, `mergeType` and `retry` (EG v1.8.1 api/v1alpha1). Objects may be unvalidated, so every field is optional.
 */
import type { KubeObject } from '../kube/types.js';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

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

export function btpRef(btp: KubeObject): BtpRef {
  return { namespace: btp.metadata?.namespace ?? '', name: btp.metadata?.name ?? '' };
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

/** `spec.targetRefs[]` plus the older singular `spec.targetRef`. `targetSelectors` cannot name a section and are not read. */
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

export const isHTTPRouteTarget = (t: BtpTarget): boolean => t.kind === 'HTTPRoute' && t.group === GATEWAY_API_GROUP;
export const isGatewayTarget = (t: BtpTarget): boolean => t.kind === 'Gateway' && t.group === GATEWAY_API_GROUP;

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
