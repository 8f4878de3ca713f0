import { definePolicy, type PolicyResult } from '../src/review/policy.js';
import { routeRules, describeRule, type AIGatewayRoute } from '../src/model/aigatewayroute.js';
import { parseDuration } from '../src/model/duration.js';
import { ON_AIGATEWAYROUTE_WRITES } from './helpers.js';

export default definePolicy({
  id: 'duration-syntax',
  description: 'A timeout that is not a Gateway API (GEP-2257) duration cannot be read by the controller.',
  endpoint: 'validate',
  ...ON_AIGATEWAYROUTE_WRITES,
  defaultMode: 'deny',
  vap: { missing: 'not-expressible', why: "the AIGatewayRoute CRD's pattern already refuses these durations before any admission policy runs; the webhook adds the explanation" },
  evaluate({ object }) {
    const findings: NonNullable<PolicyResult['findings']> = [];
    for (const [index, rule] of routeRules(object as AIGatewayRoute).entries()) {
      const timeouts = rule.timeouts && typeof rule.timeouts === 'object' ? rule.timeouts : {};
      const fields: Array<[string, unknown]> = [
        ['timeouts.request', timeouts.request],
        ['timeouts.backendRequest', timeouts.backendRequest],
        ['streamIdleTimeout', rule.streamIdleTimeout],
      ];
      for (const [field, value] of fields) {
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
