import { falloverPolicy, fixTarget, retryFromText } from './fallover-shared.js';

export default falloverPolicy({
  id: 'retry-status-codes-ignored',
  description:
    'httpStatusCodes without the retriable-status-codes trigger are ignored; the trigger with no codes matches nothing (the default 503 is dropped once triggers are set).',
  check(m) {
    const r = m.retry;
    if (!r || r.retryOnDefaulted) return undefined;
    const target = fixTarget(r);
    const where = `BackendTrafficPolicy ${target.namespace}/${target.name}`;
    const hasTrigger = r.retryOn.includes('retriable-status-codes');
    if (!hasTrigger && r.statusCodes.length > 0) {
      const covered = new Set(r.statusCodesRetried);
      const five = r.retryOn.includes('5xx');
      const ignored = r.statusCodes.filter((c) => !covered.has(String(c)) && !(five && c >= 500 && c <= 599));
      if (ignored.length === 0) return undefined;
      return {
        text:
          `the retry of ${retryFromText(r)} lists httpStatusCodes [${r.statusCodes.join(', ')}] but its triggers [${r.retryOn.join(', ')}] lack retriable-status-codes, and Envoy checks the codes only under that trigger: HTTP ${ignored.join(', ')} ${ignored.length === 1 ? 'is' : 'are'} never retried. ` +
          `Fix: in ${where} add retriable-status-codes to spec.retry.retryOn.triggers.`,
        btpPath: 'spec.retry.retryOn.triggers',
        btps: r.from,
      };
    }
    if (hasTrigger && r.statusCodes.length === 0 && !r.retryOn.includes('5xx') && !r.retryOn.includes('gateway-error')) {
      return {
        text:
          `the retry of ${retryFromText(r)} has the retriable-status-codes trigger but no httpStatusCodes: once triggers are set Envoy Gateway sends an empty code list (its default 503 is dropped), so the trigger matches nothing and not even HTTP 503 is retried. ` +
          `Fix: in ${where} set spec.retry.retryOn.httpStatusCodes, e.g. [502, 503, 504].`,
        btpPath: 'spec.retry.retryOn.httpStatusCodes',
        btps: r.from,
      };
    }
    return undefined;
  },
});
