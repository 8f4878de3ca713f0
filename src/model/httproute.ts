import { routeRules, ruleBackendRefs, ruleMatches, type AIGatewayRoute } from './aigatewayroute.js';

/** Gateway API HTTPRoute limits the generated route must fit (gateway.networking.k8s.io v1.5.1 CRD). */
export const HTTPROUTE_LIMITS = {
  rules: 16,
  backendRefsPerRule: 16,
  matchesPerRule: 64,
  matchesTotal: 128,
  weight: 1_000_000,
} as const;

/**
 * Matches the generated HTTPRoute will hold: AIGR rule i → HTTPRoute rule i with the same matches (a rule without
 * matches is defaulted by the API server to one `PathPrefix /` match), plus the catch-all `route-not-found` rule's one.
 */
export function generatedMatchCount(route: AIGatewayRoute | null): number {
  let total = 1;
  for (const rule of routeRules(route)) total += Math.max(1, ruleMatches(rule).length);
  return total;
}

export { ruleBackendRefs, ruleMatches };
