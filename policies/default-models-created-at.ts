import { definePolicy } from '../src/review/policy.js';
import { describeRule, routeRules, type AIGatewayRoute } from '../src/model/aigatewayroute.js';
import { ON_AIGATEWAYROUTE_WRITES } from './helpers.js';

/** RFC 3339, UTC, whole seconds: what Kubernetes writes for creationTimestamp. */
function rfc3339Seconds(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

export default definePolicy({
  id: 'default-models-created-at',
  description: 'Writes modelsCreatedAt, which the controller otherwise derives invisibly from the creation time.',
  endpoint: 'mutate',
  ...ON_AIGATEWAYROUTE_WRITES,
  defaultMode: 'warn',
  modes: ['warn', 'audit'],
  vap: { missing: 'mutation', why: 'writes a default; a ValidatingAdmissionPolicy cannot patch' },
  evaluate({ object, oldObject, operation, now, patch }) {
    // On CREATE the API server has not set creationTimestamp yet when mutating webhooks run: use the review time.
    const previous = operation === 'UPDATE' ? oldObject?.metadata?.creationTimestamp : undefined;
    const rules = routeRules(object as AIGatewayRoute);
    // Most writes already carry it on every rule: nothing to format then.
    if (rules.every((rule) => rule.modelsCreatedAt !== undefined)) return {};
    const value = typeof previous === 'string' && previous ? previous : rfc3339Seconds(now);
    const source = value === previous ? "the route's creationTimestamp" : 'the time of this request';
    const findings = [];
    for (const [index, rule] of rules.entries()) {
      if (rule.modelsCreatedAt !== undefined) continue;
      patch.set(['spec', 'rules', index, 'modelsCreatedAt'], value);
      findings.push({
        path: `spec.rules[${index}].modelsCreatedAt`,
        note: 'wrote modelsCreatedAt',
        message: `${describeRule(rule, index)}: wrote modelsCreatedAt: ${value} (${source}), which the controller would otherwise report for these models without showing it`,
      });
    }
    return { findings };
  },
});
