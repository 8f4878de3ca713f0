/** What the two route-reference policies share: how a miss is worded, logged, counted and turned into an Event. */
import { routeRules, ruleBackendRefs, type AIGatewayRoute } from '../src/model/aigatewayroute.js';
import { listRules, type MissReason, type XdsName, type XdsNameReference } from '../src/model/xds-names.js';
import type { EventDraft, KubeObject, Observation, ResourceRef } from '../src/kube/types.js';
import type { World } from '../src/kube/types.js';
import { WORLD_KEYS } from '../src/model/kinds.js';

export const ROUTE_LOOKUP_MISS = 'route_lookup_miss';

export function lookupRoute(world: World, namespace: string, name: string): AIGatewayRoute | undefined {
  return world.get(WORLD_KEYS.aiGatewayRoute, namespace, name) as AIGatewayRoute | undefined;
}

export function refOf(obj: KubeObject): ResourceRef {
  return {
    apiVersion: obj.apiVersion ?? '',
    kind: obj.kind ?? '',
    namespace: obj.metadata?.namespace ?? '',
    name: obj.metadata?.name ?? '',
  };
}

export const describeRef = (r: ResourceRef) => `${r.kind} ${r.namespace}/${r.name}`;

/** `rule 1 ("embeddings")` */
export function ruleLabel(route: AIGatewayRoute | null | undefined, index: number): string {
  const name = routeRules(route)[index]?.name;
  return typeof name === 'string' && name ? `rule ${index} ("${name}")` : `rule ${index} (unnamed)`;
}

export const plural = (n: number, word: string, words = `${word}s`) => `${n} ${n === 1 ? word : words}`;

/** `0 ("openai"), 1 ("anthropic")` — the backendRefs of one rule, by index and name. */
export function listBackends(route: AIGatewayRoute | null | undefined, ruleIndex: number): string {
  const rule = routeRules(route)[ruleIndex];
  const refs = rule ? ruleBackendRefs(rule) : [];
  return refs.length ? refs.map((b, i) => `${i} ("${b.name ?? ''}")`).join(', ') : 'none';
}

/** The valid index range in a fix, e.g. `from 0 to 1`, `0`. */
export function indexRange(count: number): string {
  return count === 1 ? '0' : `from 0 to ${count - 1}`;
}

export interface Miss {
  reason: MissReason;
  ref: XdsNameReference;
  /** Parsed name, or the namespace/name read loosely from an unparseable one. */
  namespace?: string;
  name?: string;
  ruleIndex?: number;
  ruleCount?: number;
  referencing: ResourceRef;
}

/** One structured log line and one `aigw_admission_route_lookup_misses_total{reason}` increment per miss. */
export function missObservation(m: Miss, extra?: Record<string, unknown>): Observation {
  const fields = {
    routeName: m.ref.text,
    namespace: m.namespace,
    name: m.name,
    ruleIndex: m.ruleIndex,
    ruleCount: m.ruleCount,
    referencing: describeRef(m.referencing),
    path: m.ref.path,
  };
  return { event: ROUTE_LOOKUP_MISS, reason: m.reason, fields: extra ? Object.assign(fields, extra) : fields };
}

/** Event messages stay short: the API server keeps at most 1 kB of a message. */
export function warningEvent(reason: string, message: string, regarding?: ResourceRef): EventDraft {
  const text = message.length > 1000 ? `${message.slice(0, 999)}…` : message;
  return regarding ? { type: 'Warning', reason, message: text, regarding } : { type: 'Warning', reason, message: text };
}

/** A name written in a reference; long values are cut so a message stays readable. */
export function quoteName(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 199)}…` : text);
}

/** `namespace/name` read from `httproute/<ns>/<name>/…` even when the rest does not parse, to list the rules that exist. */
export function looseRouteKey(text: string): { namespace: string; name: string } | undefined {
  const [, namespace, name] = text.split('/');
  return namespace && name ? { namespace, name } : undefined;
}

export function targetOf(name: XdsName): string {
  switch (name.kind) {
    case 'route':
      return `the route of match ${name.matchIndex} for host ${name.host} in rule ${name.ruleIndex}`;
    case 'rule-cluster':
      return `the cluster of rule ${name.ruleIndex}`;
    case 'backend-cluster':
      return `the cluster of backend ${name.backendIndex} in rule ${name.ruleIndex}`;
  }
}

export { listRules };
