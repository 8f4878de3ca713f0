import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReviewMetrics } from '../review/deps.js';
import type { Endpoint } from '../review/types.js';

/** One registry per process instance (no global default registry), so tests can run several servers side by side. */
export class Metrics implements ReviewMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'endpoint' | 'kind' | 'operation' | 'allowed' | 'dry_run'>;
  private readonly latency: Histogram<'endpoint'>;
  private readonly findings: Counter<'policy' | 'mode'>;
  private readonly policyErrors: Counter<'policy'>;
  readonly httpErrors: Counter<'endpoint' | 'code'>;

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'aigw_admission_' });
    this.requests = new Counter({
      name: 'aigw_admission_requests_total',
      help: 'AdmissionReviews answered, by endpoint, kind, operation, verdict and dry run.',
      labelNames: ['endpoint', 'kind', 'operation', 'allowed', 'dry_run'],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: 'aigw_admission_review_duration_seconds',
      help: 'Time to review one AdmissionReview, from the parsed body to the response.',
      labelNames: ['endpoint'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [this.registry],
    });
    this.findings = new Counter({
      name: 'aigw_admission_findings_total',
      help: 'Findings reported by policies at admission, by policy and mode.',
      labelNames: ['policy', 'mode'],
      registers: [this.registry],
    });
    this.policyErrors = new Counter({
      name: 'aigw_admission_policy_errors_total',
      help: 'Internal errors inside a policy (the review follows the policy onError).',
      labelNames: ['policy'],
      registers: [this.registry],
    });
    this.httpErrors = new Counter({
      name: 'aigw_admission_http_errors_total',
      help: 'Requests refused before review (4xx) or failed (5xx), by endpoint and status code.',
      labelNames: ['endpoint', 'code'],
      registers: [this.registry],
    });
  }

  reviewed(l: { endpoint: Endpoint; kind: string; operation: string; allowed: boolean; dryRun: boolean }, seconds: number): void {
    this.requests.inc({ endpoint: l.endpoint, kind: l.kind, operation: l.operation, allowed: String(l.allowed), dry_run: String(l.dryRun) });
    this.latency.observe({ endpoint: l.endpoint }, seconds);
  }

  finding(policy: string, mode: string): void {
    this.findings.inc({ policy, mode });
  }

  policyError(policy: string): void {
    this.policyErrors.inc({ policy });
  }
}
