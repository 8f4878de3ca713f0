import { HTTPROUTE_LIMITS_VAP } from '../src/vap/forms.js';
import { definePolicy, type PolicyResult } from '../src/review/policy.js';
import { describeRule, routeRules, type AIGatewayRoute } from '../src/model/aigatewayroute.js';
import { HTTPROUTE_LIMITS as L, generatedMatchCount, ruleBackendRefs, ruleMatches } from '../src/model/httproute.js';
import { ON_AIGATEWAYROUTE_WRITES } from './helpers.js';

export default definePolicy({
  id: 'httproute-limits',
  description: 'Limits the AIGatewayRoute CRD allows but the generated HTTPRoute cannot hold, so the route is never programmed.',
  endpoint: 'validate',
  ...ON_AIGATEWAYROUTE_WRITES,
  defaultMode: 'deny',
  vap: { form: HTTPROUTE_LIMITS_VAP },
  evaluate({ object }) {
    const route = object as AIGatewayRoute;
    const findings: NonNullable<PolicyResult['findings']> = [];
    const why = 'the generated HTTPRoute would be rejected by the API server and the route never programmed';
    const rules = routeRules(route);
    for (let index = 0; index < rules.length; index++) {
      const rule = rules[index]!;
      // The rule's label is message text: built only for a rule that has a finding.
      const refs = ruleBackendRefs(rule);
      if (refs.length > L.backendRefsPerRule) {
        findings.push({
          path: `spec.rules[${index}].backendRefs`,
          message: `${describeRule(rule, index)}: ${refs.length} backendRefs, but an HTTPRoute rule holds at most ${L.backendRefsPerRule}; ${why}. Fix: split the models over several rules (matched by x-ai-eg-model) with at most ${L.backendRefsPerRule} backendRefs each.`,
        });
      }
      const matches = ruleMatches(rule).length;
      if (matches > L.matchesPerRule) {
        findings.push({
          path: `spec.rules[${index}].matches`,
          message: `${describeRule(rule, index)}: ${matches} matches, but an HTTPRoute rule holds at most ${L.matchesPerRule}; ${why}. Fix: split the matches over several rules of at most ${L.matchesPerRule}.`,
        });
      }
      for (let j = 0; j < refs.length; j++) {
        const ref = refs[j]!;
        if (typeof ref.weight === 'number' && ref.weight > L.weight) {
          findings.push({
            path: `spec.rules[${index}].backendRefs[${j}].weight`,
            message: `${describeRule(rule, index)}: backendRefs[${j}] ("${ref.name ?? ''}") has weight ${ref.weight}, above the HTTPRoute maximum of ${L.weight.toLocaleString('en-US')}; ${why}. Fix: scale the weights of this rule down proportionally so each is at most ${L.weight}.`,
          });
        }
      }
    }
    const total = generatedMatchCount(route);
    if (total > L.matchesTotal) {
      findings.push({
        path: 'spec.rules',
        message: `the generated HTTPRoute would hold ${total} matches (the rules' matches, one for each rule without matches, and one for the catch-all route-not-found rule), but an HTTPRoute holds at most ${L.matchesTotal}; ${why}. Fix: remove ${total - L.matchesTotal} matches or move some rules to a second AIGatewayRoute.`,
      });
    }
    return { findings };
  },
});
