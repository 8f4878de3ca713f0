import { falloverPolicy, fixTarget, levelText, retryFromText } from './fallover-shared.js';

export default falloverPolicy({
  id: 'fallover-priority-unreachable',
  description:
    'Several priority levels but numAttemptsPerPriority unset or ≤ 0, numRetries below it, or numRetries: 0: every retry stays on priority 0 and the next priority is never tried; or numRetries too low to reach a later level.',
  check(m) {
    const r = m.retry;
    // With one cluster per backend the priorities do nothing at all: fallover-priorities-ignored says so.
    if (!r || m.levels.length < 2 || m.split) return undefined;
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
    // The second level is reached; later ones need k × numAttemptsPerPriority retries each.
    const missed = m.reach.filter((x) => x.attempt === undefined);
    if (missed.length === 0) return undefined;
    const levelOf = (p: number) => m.levels.find((l) => l.priority === p)!;
    const last = m.levels.length - 1;
    const need = last * n;
    return {
      text:
        `the retry of ${retryFromText(r)} has numRetries ${r.numRetries} and numAttemptsPerPriority ${n}: a failing request makes ${r.numRetries + 1} attempts, ${n} per level, ` +
        `so ${missed.map((x) => levelText(levelOf(x.priority))).join(' and ')} ${missed.length === 1 ? 'is' : 'are'} never tried ` +
        `(the first attempt there would be ${missed.map((x) => m.levels.findIndex((l) => l.priority === x.priority) * n + 1).join(' and ')}). ` +
        `Fix: in ${where} set spec.retry.numRetries to ${need} or more to reach priority ${m.levels[last]!.priority}.`,
      btpPath: 'spec.retry.numRetries',
      btps: r.from,
    };
  },
});
