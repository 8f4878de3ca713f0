/**
 * The parts of an AIGatewayRoute (aigateway.envoyproxy.io v1alpha1/v1beta1, same schema) the policies read.
 * Objects reach us before and after schema validation, so every field is treated as possibly missing or mistyped.
 */
export const AIGW_GROUP = 'aigateway.envoyproxy.io';
export const AIGATEWAYROUTE_KIND = 'AIGatewayRoute';

export interface BackendRef {
  name?: string;
  namespace?: string;
  group?: string;
  kind?: string;
  weight?: number;
  priority?: number;
  modelNameOverride?: string;
}

export interface AIGatewayRouteRule {
  name?: string;
  matches?: unknown[];
  backendRefs?: BackendRef[];
  timeouts?: { request?: string; backendRequest?: string };
  streamIdleTimeout?: string;
  modelsOwnedBy?: string;
  modelsCreatedAt?: string;
}

export interface AIGatewayRoute {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; creationTimestamp?: string; [k: string]: unknown };
  spec?: { parentRefs?: unknown[]; rules?: AIGatewayRouteRule[]; [k: string]: unknown };
}

/** Rules as an array of objects, whatever the input held (a non-object rule becomes `{}`). */
export function routeRules(route: AIGatewayRoute | null | undefined): AIGatewayRouteRule[] {
  const rules = route?.spec?.rules;
  if (!Array.isArray(rules)) return [];
  // The stored array itself when every rule is an object (nearly always): a copy per call, from many policies, was garbage.
  return rules.every(isRuleObject) ? rules : rules.map((r) => (isRuleObject(r) ? r : {}));
}

// Plain predicates, not type guards: a guard would make the copying branch `never` to the compiler.
const isRuleObject = (r: unknown): boolean => r !== null && typeof r === 'object' && !Array.isArray(r);
const isRefObject = (b: unknown): boolean => b !== null && typeof b === 'object';

export function ruleBackendRefs(rule: AIGatewayRouteRule): BackendRef[] {
  const refs = rule.backendRefs;
  if (!Array.isArray(refs)) return [];
  return refs.every(isRefObject) ? refs : refs.filter(isRefObject);
}

export function ruleMatches(rule: AIGatewayRouteRule): unknown[] {
  return Array.isArray(rule.matches) ? rule.matches : [];
}

/** `spec.rules[1] ("chat")` — how every message names a rule. */
export function describeRule(rule: AIGatewayRouteRule, index: number): string {
  return typeof rule.name === 'string' && rule.name ? `spec.rules[${index}] ("${rule.name}")` : `spec.rules[${index}] (unnamed)`;
}

/** CRD default for backendRefs[].priority is 0. */
export function backendPriority(ref: BackendRef): number {
  return typeof ref.priority === 'number' ? ref.priority : 0;
}

/**
 * Adds a level of a priority not yet in `levels`, keeping them lowest first: what sorting them after would give, without
 * the working copy Array.prototype.sort allocates on every call (two per rule of every review).
 */
export function insertByPriority<T extends { priority: number }>(levels: T[], level: T): void {
  let k = levels.length;
  levels.push(level);
  for (; k > 0 && levels[k - 1]!.priority > level.priority; k--) levels[k] = levels[k - 1]!;
  levels[k] = level;
}
