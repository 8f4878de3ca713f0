import { falloverPolicy, btpText, retryFromText } from './fallover-shared.js';

export default falloverPolicy({
  id: 'btp-overrides-retry',
  description:
    'A more specific BackendTrafficPolicy without retry (and without mergeType) replaces a Gateway- or route-level one that has a retry, silently dropping it.',
  check(m) {
    const d = m.droppedRetries[0];
    if (!d) return undefined;
    const by = `BackendTrafficPolicy ${d.by.namespace}/${d.by.name}`;
    const result = m.retry
      ? `; the retry of ${retryFromText(m.retry)} applies instead`
      : ': Envoy gets no retry policy, so a failed or silent model is never retried and the rule never falls over';
    const fix =
      d.dropped.level === 'route'
        ? `copy the retry block of BackendTrafficPolicy ${d.dropped.namespace}/${d.dropped.name} into ${by}`
        : `add spec.mergeType: StrategicMerge to ${by} so it merges with BackendTrafficPolicy ${d.dropped.namespace}/${d.dropped.name}, or copy the retry block into it`;
    return {
      text: `${btpText(d.by)} has no retry and ${d.why}, which silently drops the retry of ${btpText(d.dropped)} for this rule${result}. Fix: ${fix}.`,
      btpPath: 'spec.retry',
      btps: [d.by, d.dropped],
    };
  },
});
