import { definePolicy } from '../src/review/policy.js';
import { IMPLIED_REQUEST_TIMEOUT_MS } from '../src/model/timeouts.js';
import { ON_AIGATEWAYROUTE_WRITES, rulesWithTimeouts } from './helpers.js';

/** Written as the controller's documented default reads, `60s` (formatDuration would print 1m0s). */
const implied = `${IMPLIED_REQUEST_TIMEOUT_MS / 1000}s`;

export default definePolicy({
  id: 'default-request-timeout',
  description: 'Writes the request timeout the controller would otherwise apply invisibly (60s), so it shows on the object.',
  endpoint: 'mutate',
  ...ON_AIGATEWAYROUTE_WRITES,
  defaultMode: 'warn',
  modes: ['warn', 'audit'],
  vap: { missing: 'mutation', why: 'writes a default; a ValidatingAdmissionPolicy cannot patch' },
  evaluate({ object, patch, memo }) {
    const findings = [];
    for (const { index, label, timeouts } of rulesWithTimeouts(object, memo)) {
      if (timeouts.request !== undefined) continue;
      // backendRequest above 60s: writing 60s would make the object invalid; the validating policy denies with the fix.
      if (timeouts.backendRequest !== undefined && timeouts.backendRequest > IMPLIED_REQUEST_TIMEOUT_MS) continue;
      patch.set(['spec', 'rules', index, 'timeouts', 'request'], implied);
      findings.push({
        path: `spec.rules[${index}].timeouts.request`,
        note: `wrote timeouts.request: ${implied}`,
        message: `${label}: wrote timeouts.request: ${implied}, the request timeout the controller applies when it is unset (set it yourself to choose another value)`,
      });
    }
    return { findings };
  },
});
