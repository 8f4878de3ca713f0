import { STREAM_IDLE_WITHIN_REQUEST_VAP } from '../src/vap/forms.js';
import { definePolicy } from '../src/review/policy.js';
import { attemptBound } from '../src/model/timeouts.js';
import { formatDuration } from '../src/model/duration.js';
import { ON_AIGATEWAYROUTE_WRITES, rulesWithTimeouts } from './helpers.js';

/** A suggestion that leaves room for a retry: half the bound, in whole seconds when it can be. */
function suggestIdle(boundMs: number): string {
  const half = boundMs / 2;
  return formatDuration(half >= 1000 ? Math.floor(half / 1000) * 1000 : Math.floor(half));
}

export default definePolicy({
  id: 'stream-idle-within-request',
  description: 'A streamIdleTimeout at or above the request bound can never fire, so a silent model is never failed over.',
  endpoint: 'validate',
  ...ON_AIGATEWAYROUTE_WRITES,
  defaultMode: 'deny',
  vap: { form: STREAM_IDLE_WITHIN_REQUEST_VAP },
  evaluate({ object, memo }) {
    const findings = [];
    for (const { index, label, timeouts } of rulesWithTimeouts(object, memo)) {
      const idle = timeouts.streamIdle;
      if (idle === undefined || idle === 0) continue;
      const bound = attemptBound(timeouts);
      if (bound.ms === 0 || idle < bound.ms) continue;
      const raise =
        bound.source === 'backendRequest'
          ? `raise timeouts.backendRequest above ${formatDuration(idle)}`
          : bound.source === 'request'
            ? `raise timeouts.request above ${formatDuration(idle)}`
            : `set timeouts.request above ${formatDuration(idle)}`;
      findings.push({
        path: `spec.rules[${index}].streamIdleTimeout`,
        message:
          `${label}: streamIdleTimeout ${formatDuration(idle)} is not shorter than the ${formatDuration(bound.ms)} bound on one attempt ` +
          `(${bound.reason}), so the idle timer can never fire first and a silent model is never failed over. ` +
          `Fix: set streamIdleTimeout below ${formatDuration(bound.ms)} (e.g. ${suggestIdle(bound.ms)}), or ${raise}.`,
      });
    }
    return { findings };
  },
});
