import { definePolicy, type PolicyResult } from '../src/review/policy.js';
import { routeRules, describeRule, type AIGatewayRoute, type AIGatewayRouteRule } from '../src/model/aigatewayroute.js';
import { parseDuration } from '../src/model/duration.js';
import { ON_AIGATEWAYROUTE_WRITES } from './helpers.js';

/** The duration fields of a rule, in the order their findings are reported. */
const DURATION_FIELDS = ['timeouts.request', 'timeouts.backendRequest', 'streamIdleTimeout'] as const;

function durationAt(rule: AIGatewayRouteRule, field: (typeof DURATION_FIELDS)[number]): unknown {
  if (field === 'streamIdleTimeout') return rule.streamIdleTimeout;
  const timeouts = rule.timeouts && typeof rule.timeouts === 'object' ? rule.timeouts : undefined;
  return field === 'timeouts.request' ? timeouts?.request : timeouts?.backendRequest;
}

export default definePolicy({
  id: 'duration-syntax',
  description: 'A timeout that is not a Gateway API (GEP-2257) duration cannot be read by the controller.',
  endpoint: 'validate',
  ...ON_AIGATEWAYROUTE_WRITES,
  defaultMode: 'deny',
  vap: { missing: 'not-expressible', why: "the AIGatewayRoute CRD's pattern already refuses these durations before any admission policy runs; the webhook adds the explanation" },
  evaluate({ object }) {
    const findings: NonNullable<PolicyResult['findings']> = [];
    const rules = routeRules(object as AIGatewayRoute);
    for (let index = 0; index < rules.length; index++) {
      const rule = rules[index]!;
      for (const field of DURATION_FIELDS) {
        const value = durationAt(rule, field);
        if (value === undefined || value === null) continue;
        const parsed = parseDuration(value);
        if (!parsed.ok) {
          findings.push({ path: `spec.rules[${index}].${field}`, message: `${describeRule(rule, index)}: ${field} ${parsed.error}` });
        }
      }
    }
    return { findings };
  },
});
