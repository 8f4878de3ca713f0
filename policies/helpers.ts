import { routeRules, describeRule, type AIGatewayRoute, type AIGatewayRouteRule } from '../src/model/aigatewayroute.js';
import { readRuleTimeouts, type RuleTimeouts } from '../src/model/timeouts.js';
import type { KubeObject } from '../src/review/types.js';

export interface RuleWithTimeouts {
  rule: AIGatewayRouteRule;
  index: number;
  /** `spec.rules[0] ("chat")` */
  label: string;
  timeouts: RuleTimeouts;
}

/** Rules whose durations all parse; the `duration-syntax` policy reports the others, so no policy reports them twice. */
export function rulesWithTimeouts(object: KubeObject | null): RuleWithTimeouts[] {
  const out: RuleWithTimeouts[] = [];
  routeRules(object as AIGatewayRoute | null).forEach((rule, index) => {
    const t = readRuleTimeouts(rule);
    if (t.ok) out.push({ rule, index, label: describeRule(rule, index), timeouts: t.value });
  });
  return out;
}

export const NO_PARAMS = { type: 'object', additionalProperties: false, properties: {} } as const;
