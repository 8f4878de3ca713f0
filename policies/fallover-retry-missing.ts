import { falloverPolicy, btpText, fmt, hasIdle, levelText, recommendedRetry } from './fallover-shared.js';

export default falloverPolicy({
  id: 'fallover-retry-missing',
  description:
    'A rule with several priority levels or a streamIdleTimeout that no BackendTrafficPolicy retry applies to: a failed or silent model is never retried, it never falls over.',
  check(m, route) {
    const idle = hasIdle(m);
    if (m.retry || !(m.levels.length >= 2 || idle)) return undefined;
    // A retry that exists but is dropped by a more specific policy is btp-overrides-retry's finding.
    if (m.droppedRetries.length > 0) return undefined;
    // Each level worded once: the second is named again below.
    const levels = m.levels.length >= 2 ? m.levels.map(levelText) : undefined;
    const why =
      levels
        ? `it has ${m.levels.length} priority levels (${levels.join(', ')})${idle ? ` and streamIdleTimeout ${fmt(m.streamIdleMs!)}` : ''}`
        : `streamIdleTimeout ${fmt(m.streamIdleMs!)} is set`;
    const effect = idle
      ? `when the ${fmt(m.streamIdleMs!)} idle timer fires Envoy aborts the request with a 504 and never retries it`
      : 'a failed request is never retried';
    const next = levels ? `, and ${levels[1]!} gets traffic only once health checks eject priority ${m.levels[0]!.priority}, never for a failed request` : '';
    const section = m.name ? ` (or sectionName: ${m.name} for this rule only)` : '';
    if (!m.winner) {
      return {
        text:
          `${why}, but no BackendTrafficPolicy retry applies to it: none targets HTTPRoute ${route.namespace}/${route.name}, its rules or its Gateway, ` +
          `so Envoy gets no retry policy: ${effect}${next}. ` +
          `Fix: apply a BackendTrafficPolicy in namespace ${route.namespace} with targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: ${route.name}}]${section} and ${recommendedRetry(m)}. ` +
          `If one is applied together with this route (kubectl apply -f dir/), this warning is expected; check with aigw-admission explain.`,
        btpPath: 'spec.retry',
        btps: [],
        mayResolveLater: true,
      };
    }
    return {
      text:
        `${why}, but ${btpText(m.winner)}, the policy that applies to it, has no retry, so Envoy gets no retry policy: ${effect}${next}. ` +
        `Fix: add ${recommendedRetry(m)} to BackendTrafficPolicy ${m.winner.namespace}/${m.winner.name}.`,
      btpPath: 'spec.retry',
      btps: [m.winner],
    };
  },
});
