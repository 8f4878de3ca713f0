import { falloverPolicy, fixTarget, fmt, hasIdle, levelText, retriedText, retryFromText, RECOMMENDED_TRIGGERS } from './fallover-shared.js';
import { TIMEOUT_RETRY_TRIGGERS } from '../src/model/fallover.js';

export default falloverPolicy({
  id: 'fallover-retry-triggers',
  description:
    'The effective retry_on has none of reset, 5xx, gateway-error (e.g. retry: {} or retryOn omitted): idle and per-try timeouts, resets and 500/502/504 are never retried.',
  check(m) {
    const r = m.retry;
    if (!r || r.timeoutTrigger) return undefined;
    const perTry = r.perTryTimeoutMs !== undefined && !r.perTryTimeoutDropped;
    if (!hasIdle(m) && !perTry && m.levels.length < 2) return undefined;
    const target = fixTarget(r);
    const defaulted = r.retryOnDefaulted ? ` (Envoy Gateway's default, because spec.retry.retryOn has no triggers)` : '';
    const timers = [hasIdle(m) ? `the ${fmt(m.streamIdleMs!)} idle timer` : '', perTry ? `perRetry.timeout ${fmt(r.perTryTimeoutMs!)}` : ''].filter(Boolean);
    // Name only what is really not retried: the status codes may still cover some of 500, 502, 504.
    const retriedCodes = new Set(r.statusCodesRetried);
    const lost = ['500', '502', '504'].filter((c) => !retriedCodes.has(c));
    const lostText = lost.length ? ` or an HTTP ${lost.length === 1 ? lost[0] : `${lost.slice(0, -1).join(', ')} or ${lost[lost.length - 1]}`}` : '';
    const effect = timers.length
      ? `when ${timers.join(' or ')} fires Envoy aborts the request with a 504 and never retries it`
      : `a reset${lostText} from ${levelText(m.levels[0]!)} goes back to the client without trying ${levelText(m.levels[1]!)}`;
    return {
      text:
        `the retry of ${retryFromText(r)} has retry_on "${r.retryOn.join(',')}"${defaulted}, with none of ${TIMEOUT_RETRY_TRIGGERS.join(', ')}, so ${effect}; ` +
        `only ${retriedText(r)} are retried. ` +
        `Fix: in BackendTrafficPolicy ${target.namespace}/${target.name} set ${RECOMMENDED_TRIGGERS} (reset is what retries a timeout).`,
      btpPath: r.retryOnDefaulted ? 'spec.retry' : 'spec.retry.retryOn.triggers',
      btps: r.from,
    };
  },
});
