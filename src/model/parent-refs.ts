/**
 * The one reader of a route's `spec.parentRefs` (Gateway API ParentReference, used as-is by AIGatewayRoute and the
 * HTTPRoute generated from it). A ref is a Gateway when its kind and group are unset or say so; a ref without
 * namespace means the route's own namespace.
 */
import type { KubeObject } from '../kube/types.js';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

export interface ParentGateway {
  namespace: string;
  name: string;
  /** The listener named, when the ref names one. */
  sectionName?: string;
}

export function parentGateways(route: KubeObject): ParentGateway[] {
  const spec = route.spec as { parentRefs?: unknown } | undefined;
  const refs = Array.isArray(spec?.parentRefs) ? spec.parentRefs : [];
  const ns = route.metadata?.namespace ?? '';
  const out: ParentGateway[] = [];
  for (const raw of refs) {
    if (!raw || typeof raw !== 'object') continue;
    const r = raw as Record<string, unknown>;
    if (typeof r.name !== 'string' || !r.name) continue;
    if (r.kind !== undefined && r.kind !== 'Gateway') continue;
    if (r.group !== undefined && r.group !== GATEWAY_API_GROUP) continue;
    out.push({
      namespace: typeof r.namespace === 'string' && r.namespace ? r.namespace : ns,
      name: r.name,
      ...(typeof r.sectionName === 'string' && r.sectionName ? { sectionName: r.sectionName } : {}),
    });
  }
  return out;
}

/** The route attaches to Gateway `namespace/name` (any listener). */
export function attachesTo(route: KubeObject, gateway: { namespace: string; name: string }): boolean {
  return parentGateways(route).some((g) => g.namespace === gateway.namespace && g.name === gateway.name);
}

/**
 * Hostnames of the listeners the route attaches to, from the Gateways given (a listener without `hostname` gives
 * undefined); undefined when none of its Gateways is among them.
 */
export function listenerHostnames(route: KubeObject, gateways: KubeObject[]): Array<string | undefined> | undefined {
  const out: Array<string | undefined> = [];
  let found = false;
  for (const p of parentGateways(route)) {
    const gw = gateways.find((g) => (g.metadata?.namespace ?? '') === p.namespace && g.metadata?.name === p.name);
    if (!gw) continue;
    found = true;
    const listeners = (gw.spec as { listeners?: unknown } | undefined)?.listeners;
    for (const l of Array.isArray(listeners) ? listeners : []) {
      if (!l || typeof l !== 'object') continue;
      const { name, hostname } = l as { name?: unknown; hostname?: unknown };
      if (p.sectionName !== undefined && name !== p.sectionName) continue;
      out.push(typeof hostname === 'string' && hostname ? hostname : undefined);
    }
  }
  return found ? out : undefined;
}
