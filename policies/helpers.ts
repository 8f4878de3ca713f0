import { routeRules, describeRule, type AIGatewayRoute, type AIGatewayRouteRule } from '../src/model/aigatewayroute.js';
import { readRuleTimeouts, type RuleTimeouts } from '../src/model/timeouts.js';
import type { KubeObject, Operation } from '../src/kube/types.js';
import type { KindMatch, PolicyContext } from '../src/review/policy.js';
import { AIGATEWAYROUTE } from '../src/model/kinds.js';

export interface RuleWithTimeouts {
  rule: AIGatewayRouteRule;
  index: number;
  /** `spec.rules[0] ("chat")` */
  label: string;
  timeouts: RuleTimeouts;
}

/**
 * Rules whose durations all parse; the `duration-syntax` policy reports the others, so no policy reports them twice.
 * Read once per review when given the review's `memo` (six policies read them); callers only read the list.
 */
export function rulesWithTimeouts(object: KubeObject | null, memo?: PolicyContext<unknown>['memo']): readonly RuleWithTimeouts[] {
  if (!object) return [];
  return memo ? memo('rulesWithTimeouts', object, readRulesWithTimeouts) : readRulesWithTimeouts(object);
}

function readRulesWithTimeouts(object: KubeObject): RuleWithTimeouts[] {
  const out: RuleWithTimeouts[] = [];
  routeRules(object as AIGatewayRoute).forEach((rule, index) => {
    const t = readRuleTimeouts(rule);
    if (t.ok) out.push({ rule, index, label: describeRule(rule, index), timeouts: t.value });
  });
  return out;
}

export const NO_PARAMS = { type: 'object', additionalProperties: false, properties: {} } as const;

/** What most AIGatewayRoute policies share: they judge CREATE and UPDATE, take no parameters, and fail open with a warning. */
export const ON_AIGATEWAYROUTE_WRITES = {
  match: { kinds: [AIGATEWAYROUTE] as KindMatch[], operations: ['CREATE', 'UPDATE'] as Operation[] },
  onError: 'allow-with-warning' as const,
  paramsSchema: NO_PARAMS,
  defaultParams: {},
};
