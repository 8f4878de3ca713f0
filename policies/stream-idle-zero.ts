import { STREAM_IDLE_ZERO_VAP } from '../src/vap/forms.js';
import { definePolicy } from '../src/review/policy.js';
import { attemptBound } from '../src/model/timeouts.js';
import { formatDuration } from '../src/model/duration.js';
import { ON_AIGATEWAYROUTE_WRITES, rulesWithTimeouts } from './helpers.js';

export default definePolicy({
  id: 'stream-idle-zero',
  description: 'streamIdleTimeout: 0s silently turns the per-try idle timeout off.',
  endpoint: 'validate',
  ...ON_AIGATEWAYROUTE_WRITES,
  defaultMode: 'warn',
  vap: { form: STREAM_IDLE_ZERO_VAP },
  evaluate({ object, memo }) {
    const findings = [];
    for (const { index, label, timeouts } of rulesWithTimeouts(object, memo)) {
      if (timeouts.streamIdle !== 0) continue;
      const bound = attemptBound(timeouts);
      const cut = bound.ms === 0 ? 'nothing (the request timeout is 0s too)' : `only the ${formatDuration(bound.ms)} request bound`;
      findings.push({
        path: `spec.rules[${index}].streamIdleTimeout`,
        message:
          `${label}: streamIdleTimeout 0s disables the idle timeout, so a model that stops sending is cut by ${cut} and never failed over. ` +
          `Fix: set a positive streamIdleTimeout${bound.ms ? ` below ${formatDuration(bound.ms)}` : ''} (e.g. 30s for a first-token budget), or remove the field.`,
      });
    }
    return { findings };
  },
});
