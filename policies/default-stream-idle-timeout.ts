import { definePolicy } from '../src/review/policy.js';
import { AIGATEWAYROUTE } from '../src/model/kinds.js';
import { backendPriority, ruleBackendRefs } from '../src/model/aigatewayroute.js';
import { GEP_2257_PATTERN, parseDuration } from '../src/model/duration.js';
import { attemptBound } from '../src/model/timeouts.js';
import { rulesWithTimeouts } from './helpers.js';

export default definePolicy<{ value: string }>({
  id: 'default-stream-idle-timeout',
  description:
    'Operator default (off unless enabled): a first-token fall-over budget for rules with more than one priority level and no streamIdleTimeout.',
  endpoint: 'mutate',
  match: { kinds: [AIGATEWAYROUTE], operations: ['CREATE', 'UPDATE'] },
  defaultMode: 'warn',
  modes: ['warn', 'audit'],
  defaultEnabled: false,
  onError: 'allow-with-warning',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { value: { type: 'string', pattern: GEP_2257_PATTERN.source } },
  },
  defaultParams: { value: '30s' },
  vap: { missing: 'mutation', why: 'writes a default; a ValidatingAdmissionPolicy cannot patch' },
  evaluate({ object, params, patch, memo }) {
    const parsed = parseDuration(params.value);
    if (!parsed.ok || parsed.ms === 0) return {};
    const findings = [];
    for (const { rule, index, label, timeouts } of rulesWithTimeouts(object, memo)) {
      if (rule.streamIdleTimeout !== undefined) continue;
      const levels = new Set(ruleBackendRefs(rule).map(backendPriority));
      if (levels.size < 2) continue;
      const bound = attemptBound(timeouts);
      // A default that can never fire would only earn the route a denial: leave such rules alone.
      if (bound.ms !== 0 && parsed.ms >= bound.ms) continue;
      patch.set(['spec', 'rules', index, 'streamIdleTimeout'], params.value);
      findings.push({
        path: `spec.rules[${index}].streamIdleTimeout`,
        note: `wrote streamIdleTimeout: ${params.value}`,
        message: `${label}: wrote streamIdleTimeout: ${params.value} (the operator's default for rules with ${levels.size} priority levels), so a silent model is failed over; set streamIdleTimeout yourself to choose another value`,
      });
    }
    return { findings };
  },
});
