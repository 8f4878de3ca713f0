import { falloverPolicy, fixTarget, fmt, hasIdle, levelText, routeTimeoutText } from './fallover-shared.js';

export default falloverPolicy({
  id: 'fallover-budget',
  description:
    'numAttemptsPerPriority × streamIdleTimeout (+ back-off) is not below the route timeout: the route timeout, never retried, fires before the next priority is tried.',
  check(m) {
    const r = m.retry;
    const routeMs = m.routeTimeout.ms;
    if (m.split || !r?.previousPriorities || !r.timeoutTrigger || m.levels.length < 2 || !hasIdle(m) || routeMs <= 0) return undefined;
    const perTry = r.perTryTimeoutDropped ? undefined : r.perTryTimeoutMs;
    const byPerTry = perTry !== undefined && perTry < m.streamIdleMs!;
    const attemptMs = byPerTry ? perTry : m.streamIdleMs!;
    // A timer that cannot fire before the route timeout at all is stream-idle-within-request's finding.
    if (attemptMs >= routeMs) return undefined;
    const n = r.previousPriorities.updateFrequency;
    const base = r.backOffBaseMs ?? 0;
    const needMs = n * attemptMs + n * base;
    if (needMs < routeMs) return undefined;
    const timer = byPerTry ? `perRetry.timeout ${fmt(attemptMs)}` : `streamIdleTimeout ${fmt(attemptMs)}`;
    const sum = `numAttemptsPerPriority ${n} × ${timer}${base ? ` + ${n} × back-off ${fmt(base)}` : ''} = ${fmt(needMs)}`;
    const field = m.routeTimeout.source === 'backendRequest' ? 'timeouts.backendRequest' : 'timeouts.request';
    const maxIdle = Math.floor((routeMs - n * base) / n);
    const lower = maxIdle > 0 && !byPerTry ? `, lower streamIdleTimeout below ${fmt(maxIdle)}` : '';
    const target = fixTarget(r);
    const fewer = n > 1 ? `, or set numAttemptsPerPriority to ${n - 1} in BackendTrafficPolicy ${target.namespace}/${target.name}` : '';
    return {
      text:
        `reaching ${levelText(m.levels[1]!)} takes ${sum} of silence on priority ${m.levels[0]!.priority}, but ${routeTimeoutText(m)} ends the request at ${fmt(routeMs)}, ` +
        `${fmt(needMs - routeMs)} short, and the route timeout is never retried: the client gets a 504 before priority ${m.levels[1]!.priority} is tried. ` +
        `Fix: raise ${field} above ${fmt(needMs)} (e.g. ${fmt(needMs + attemptMs)}, leaving priority ${m.levels[1]!.priority} time to answer)${lower}${fewer}.`,
      btpPath: 'spec.retry.numAttemptsPerPriority',
      rulePath: '.streamIdleTimeout',
      btps: r.from,
    };
  },
});
