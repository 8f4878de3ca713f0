import { falloverPolicy, fixTarget, levelText, retryFromText } from './fallover-shared.js';

export default falloverPolicy({
  id: 'fallover-priority-unreachable',
  description:
    'Several priority levels but numAttemptsPerPriority unset or ≤ 0, numRetries below it, or numRetries: 0: every retry stays on priority 0 and the next priority is never tried.',
  check(m) {
    const r = m.retry;
    if (!r || m.levels.length < 2) return undefined;
    const [p0, p1] = [m.levels[0]!, m.levels[1]!];
    const target = fixTarget(r);
    const where = `BackendTrafficPolicy ${target.namespace}/${target.name}`;
    const n = r.numAttemptsPerPriority;
    if (r.numRetries <= 0) {
      const want = n !== undefined && n > 0 ? n : 1;
      return {
        text:
          `the retry of ${retryFromText(r)} has numRetries ${r.numRetries}, which turns every retry off, so ${levelText(p1)} is never tried for a failed request. ` +
          `Fix: in ${where} set spec.retry.numRetries to ${want} or more${n !== undefined && n > 0 ? '' : ' and numAttemptsPerPriority: 1'}.`,
        btpPath: 'spec.retry.numRetries',
        btps: r.from,
      };
    }
    if (n === undefined || n <= 0) {
      return {
        text:
          `the retry of ${retryFromText(r)} has numAttemptsPerPriority ${n === undefined ? 'unset' : n}, so Envoy Gateway adds no previous_priorities retry plugin and all ${r.numRetries} retries go to ${levelText(p0)} while it counts as healthy; ` +
          `${levelText(p1)} is reached only after health checks eject priority ${p0.priority}. ` +
          `Fix: in ${where} set spec.retry.numAttemptsPerPriority: 1 (then the first retry goes to priority ${p1.priority}).`,
        btpPath: 'spec.retry.numAttemptsPerPriority',
        btps: r.from,
      };
    }
    if (r.numRetries < n) {
      return {
        text:
          `the retry of ${retryFromText(r)} has numRetries ${r.numRetries} below numAttemptsPerPriority ${n}: the first ${n} attempts all go to ${levelText(p0)} and there are only ${r.numRetries + 1}, so ${levelText(p1)} is never tried. ` +
          `Fix: in ${where} set spec.retry.numRetries to ${n} or more, or numAttemptsPerPriority to ${r.numRetries}.`,
        btpPath: 'spec.retry.numRetries',
        btps: r.from,
      };
    }
    return undefined;
  },
});
