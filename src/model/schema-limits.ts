/**
 * The list limits of the AIGatewayRoute CRD (maxItems) that the defaults on `/mutate` would otherwise multiply:
 * mutating webhooks see an object before the API server checks it against its schema, so an object over these is
 * refused anyway, and writing a patch for each of its thousands of rules only costs memory and time.
 */
import type { KubeObject } from '../kube/types.js';
import { AIGATEWAYROUTE } from './kinds.js';

const AIGATEWAYROUTE_LIMITS = { rules: 15, backendRefs: 128, matches: 128, llmRequestCosts: 36 } as const;

/** Where an object is over its CRD's list limits, in the API server's words; undefined when it is within them. */
export function overSchemaLimits(group: string, kind: string, object: KubeObject | null): string | undefined {
  if (group !== AIGATEWAYROUTE.group || kind !== AIGATEWAYROUTE.kind || !object) return undefined;
  const spec = object.spec as { rules?: unknown; llmRequestCosts?: unknown } | undefined;
  const over = (path: string, list: unknown, max: number) =>
    Array.isArray(list) && list.length > max ? `${path}: Too many: ${list.length}: must have at most ${max} items` : undefined;
  const top = over('spec.rules', spec?.rules, AIGATEWAYROUTE_LIMITS.rules) ?? over('spec.llmRequestCosts', spec?.llmRequestCosts, AIGATEWAYROUTE_LIMITS.llmRequestCosts);
  if (top || !Array.isArray(spec?.rules)) return top;
  for (const [i, rule] of (spec.rules as Array<Record<string, unknown> | null>).entries()) {
    const found =
      over(`spec.rules[${i}].backendRefs`, rule?.backendRefs, AIGATEWAYROUTE_LIMITS.backendRefs) ??
      over(`spec.rules[${i}].matches`, rule?.matches, AIGATEWAYROUTE_LIMITS.matches);
    if (found) return found;
  }
  return undefined;
}
