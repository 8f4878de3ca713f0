import { falloverPolicy, fixTarget, fmt, hasIdle, retryFromText, routeTimeoutText } from './fallover-shared.js';

export default falloverPolicy({
  id: 'per-retry-timeout',
  description:
    'perRetry.timeout at or above the route timeout is dropped by Envoy; below streamIdleTimeout it fires first and also cuts healthy first attempts.',
  check(m) {
    const r = m.retry;
    if (!r || r.perTryTimeoutMs === undefined) return undefined;
    const target = fixTarget(r);
    const where = `BackendTrafficPolicy ${target.namespace}/${target.name}`;
    const t = fmt(r.perTryTimeoutMs);
    if (r.perTryTimeoutDropped) {
      return {
        text:
          `the retry of ${retryFromText(r)} sets perRetry.timeout ${t}, not below ${routeTimeoutText(m)}, so Envoy drops it and attempts get no per-try limit. ` +
          `Fix: in ${where} set spec.retry.perRetry.timeout below ${fmt(m.routeTimeout.ms)}, or remove it.`,
        btpPath: 'spec.retry.perRetry.timeout',
        btps: r.from,
      };
    }
    if (hasIdle(m) && r.perTryTimeoutMs < m.streamIdleMs!) {
      const idle = fmt(m.streamIdleMs!);
      return {
        text:
          `the retry of ${retryFromText(r)} sets perRetry.timeout ${t}, shorter than streamIdleTimeout ${idle}: it applies to every attempt, the first one included, so it fires first and cuts any attempt whose response headers take longer than ${t}, healthy ones too, while the idle timeout only acts mid-stream. ` +
          `Fix: in ${where} remove spec.retry.perRetry.timeout, or set it above ${idle}.`,
        btpPath: 'spec.retry.perRetry.timeout',
        rulePath: '.streamIdleTimeout',
        btps: r.from,
      };
    }
    return undefined;
  },
});
