import { BACKEND_REQUEST_WITHIN_IMPLIED_REQUEST_VAP } from '../src/vap/forms.js';
import { definePolicy } from '../src/review/policy.js';
import { IMPLIED_REQUEST_TIMEOUT_MS } from '../src/model/timeouts.js';
import { formatDuration } from '../src/model/duration.js';
import { ON_AIGATEWAYROUTE_WRITES, rulesWithTimeouts } from './helpers.js';

export default definePolicy({
  id: 'backend-request-within-implied-request',
  description:
    'timeouts.backendRequest above the implied 60s request timeout (request unset) makes the generated HTTPRoute invalid; the CRD only checks it when both are set.',
  endpoint: 'validate',
  ...ON_AIGATEWAYROUTE_WRITES,
  defaultMode: 'deny',
  vap: { form: BACKEND_REQUEST_WITHIN_IMPLIED_REQUEST_VAP },
  evaluate({ object, memo }) {
    const findings = [];
    for (const { index, label, timeouts } of rulesWithTimeouts(object, memo)) {
      const br = timeouts.backendRequest;
      if (timeouts.request !== undefined || br === undefined || br <= IMPLIED_REQUEST_TIMEOUT_MS) continue;
      const implied = formatDuration(IMPLIED_REQUEST_TIMEOUT_MS);
      findings.push({
        path: `spec.rules[${index}].timeouts.backendRequest`,
        message:
          `${label}: timeouts.backendRequest ${formatDuration(br)} is longer than the ${implied} request timeout the controller writes when timeouts.request is unset, ` +
          `so the generated HTTPRoute is rejected (backendRequest must not exceed request) and this route is never programmed. ` +
          `Fix: set timeouts.request to ${formatDuration(br)} or more, or lower timeouts.backendRequest to ${implied} or less.`,
      });
    }
    return { findings };
  },
});
