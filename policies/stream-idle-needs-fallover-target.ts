import { definePolicy } from '../src/review/policy.js';
import { ruleBackendRefs } from '../src/model/aigatewayroute.js';
import { priorityLevels } from '../src/model/fallover.js';
import { formatDuration } from '../src/model/duration.js';
import { ON_AIGATEWAYROUTE_WRITES, rulesWithTimeouts } from './helpers.js';

export default definePolicy({
  id: 'stream-idle-needs-fallover-target',
  description: 'A streamIdleTimeout with every backendRef at one priority has nothing to fall over to: at most a retry reaches the same backends again.',
  endpoint: 'validate',
  ...ON_AIGATEWAYROUTE_WRITES,
  defaultMode: 'warn',
  vap: { missing: 'fall-over', why: 'a fall-over judgement (priorities), reworked with the fall-over policies; the webhook keeps it' },
  evaluate({ object, memo }) {
    const findings = [];
    for (const { rule, index, label, timeouts } of rulesWithTimeouts(object, memo)) {
      const idle = timeouts.streamIdle;
      if (idle === undefined || idle === 0) continue;
      // Envoy Gateway drops weight-0 refs: a level made only of them does not exist (the fall-over model's levels).
      const levels = priorityLevels(rule);
      if (levels.length !== 1) continue;
      const { priority: level, backends } = levels[0]!;
      const weighted = backends.length;
      const all = ruleBackendRefs(rule);
      const dropped = all.length - weighted;
      const refsText = weighted === 1 ? `its only backendRef${dropped ? ' with weight' : ''} has` : `all ${weighted} backendRefs${dropped ? ' with weight' : ''} have`;
      const droppedText = dropped ? ` (Envoy Gateway drops the ${dropped === 1 ? 'one' : dropped} with weight 0, so ${dropped === 1 ? 'its level does' : 'their levels do'} not exist)` : '';
      findings.push({
        path: `spec.rules[${index}].streamIdleTimeout`,
        message:
          `${label}: streamIdleTimeout ${formatDuration(idle)} is set but ${refsText} priority ${level}${droppedText}, so when the timer fires there is no next priority to fall over to: at most a retry goes to the same backends again. ` +
          `Fix: add a backendRef with priority ${level + 1} on a different provider, or remove streamIdleTimeout.`,
      });
    }
    return { findings };
  },
});
