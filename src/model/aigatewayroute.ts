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
  return rules.map((r) => (r && typeof r === 'object' && !Array.isArray(r) ? r : {}));
}

export function ruleBackendRefs(rule: AIGatewayRouteRule): BackendRef[] {
  return Array.isArray(rule.backendRefs) ? rule.backendRefs.filter((b) => b && typeof b === 'object') : [];
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
