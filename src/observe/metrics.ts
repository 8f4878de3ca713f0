import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { OptionalGauge, TallyCounter, TallyHistogram } from './tally.js';
import type { ReviewMetrics } from '../review/deps.js';
import type { EventWriteMetrics } from '../world/kube-events.js';
import { OPERATIONS, type Finding, type Operation } from '../kube/types.js';

/**
 * Observations with a counter of their own, labelled by reason; any other event is counted in
 * `aigw_admission_observations_total{policy,event,reason}` so nothing goes uncounted.
 */
export const OBSERVATION_COUNTERS: Readonly<Record<string, { name: string; help: string }>> = {
  sidecar_injected: {
    name: 'aigw_admission_sidecar_injections_total',
    help: 'ext_proc sidecars injected into Envoy proxy pods, by reason (native-sidecar or container).',
  },
  sidecar_injection_skipped: {
    name: 'aigw_admission_sidecar_injection_skipped_total',
    help: 'Envoy Gateway pods the ext_proc sidecar was not injected into, by reason.',
  },
  route_lookup_miss: {
    name: 'aigw_admission_route_lookup_misses_total',
    help: 'xDS route or cluster names that do not resolve to an AIGatewayRoute rule, by reason.',
  },
};

/** What the background audit reports (src/audit/background.ts). */
export interface AuditMetrics {
  /** One finished run: its findings (the gauge is set per run, not added to) and how long it took. */
  audited(findings: readonly Finding[], seconds: number): void;
}

/** Seconds left until each certificate the webhook serves expires, read on each scrape. */
export interface CertificateExpiry {
  /** The serving certificate's `notAfter`. */
  serving: Date | undefined;
  /** The CA's (the caBundle clients trust); undefined when unknown. */
  ca: Date | undefined;
}

/** One cache age per watched kind: seconds since its view was last confirmed complete (0 while its watch is open). */
export interface KindCacheAge {
  kind: string;
  seconds: number | undefined;
}

export interface MetricsOptions {
  /** prom-client's default process and Node.js metrics, under their standard (unprefixed) names. */
  processMetrics?: boolean;
  /** The package version, as `aigw_admission_build_info{version}`. */
  version?: string;
}

type ReviewLabels = Parameters<ReviewMetrics['reviewed']>[0];
const reviewLabels = (l: ReviewLabels) => ({ endpoint: l.endpoint, kind: l.kind, operation: l.operation, allowed: String(l.allowed), dry_run: String(l.dryRun) });
const VALIDATE_LABELS = () => ({ endpoint: 'validate' as const });
const MUTATE_LABELS = () => ({ endpoint: 'mutate' as const });
/** Kinds whose review counter keys are kept (the webhook's rules admit a handful). */
const MAX_KEYED_KINDS = 64;

/** One registry per process instance (no global default registry), so tests can run several servers side by side. */
export class Metrics implements ReviewMetrics, EventWriteMetrics, AuditMetrics {
  readonly registry = new Registry();
  private certificates: (() => CertificateExpiry) | undefined;
  private kindCacheAges: (() => KindCacheAge[]) | undefined;
  /** Counted on every review: plain numbers per label set, read by prom-client at scrape (tally.ts). */
  private readonly requests: TallyCounter<'endpoint' | 'kind' | 'operation' | 'allowed' | 'dry_run'>;
  private readonly reviewKeys = new Map<string, string[]>();
  private readonly latency: TallyHistogram<'endpoint'>;
  private readonly findings: TallyCounter<'policy' | 'mode'>;
  private readonly policyErrors: Counter<'policy'>;
  private readonly policiesAbandoned: Counter<'policy'>;
  private readonly skips: Counter<'policy'>;
  readonly httpErrors: Counter<'endpoint' | 'code'>;
  /** Connections closed before they sent a request: handshake failed or timed out, evicted, or silent after it. */
  readonly connectionsDropped: Counter<'reason'>;
  /** Certificate reloads by result: applied, or skipped (the new files failed the checks; the previous pair stays). */
  readonly certReloads: Counter<'result'>;
  /** Per miss or injection, on the review path (an EnvoyPatchPolicy can miss twenty names in one review). */
  private readonly observationCounters = new Map<string, TallyCounter<'reason'>>();
  private readonly otherObservations: Counter<'policy' | 'event' | 'reason'>;
  private readonly eventWrites: Counter<'result'>;
  private cacheAge: (() => number | undefined) | undefined;
  private readiness: (() => boolean) | undefined;
  private readonly auditFindings: Gauge<'policy' | 'mode'>;
  private readonly auditDuration: Gauge;
  private readonly auditSkipped: Gauge<'policy'>;

  constructor(options: MetricsOptions = {}) {
    // Standard names (process_cpu_seconds_total, nodejs_heap_size_used_bytes, …): the dashboards and alerts everyone
    // has for Node.js processes match them only without a prefix.
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'aigw_admission_build_info',
      help: 'Always 1; the version label says which release of the webhook is running.',
      labelNames: ['version'],
      registers: [this.registry],
    }).set({ version: options.version ?? 'unknown' }, 1);
    this.requests = new TallyCounter({
      name: 'aigw_admission_requests_total',
      help: 'AdmissionReviews answered, by endpoint, kind, operation, allowed (true: admitted, false: denied) and dry_run (true for a dry-run request).',
      labelNames: ['endpoint', 'kind', 'operation', 'allowed', 'dry_run'],
      registers: [this.registry],
    });
    this.latency = new TallyHistogram({
      name: 'aigw_admission_review_duration_seconds',
      help: 'Time to review one AdmissionReview, from the parsed body to the response, by endpoint (validate or mutate).',
      labelNames: ['endpoint'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5, 5],
      registers: [this.registry],
    });
    this.findings = new TallyCounter({
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
    this.policiesAbandoned = new Counter({
      name: 'aigw_admission_policy_abandoned_total',
      help: "Policies abandoned because the review's deadline passed, by policy (the review followed the policy onError).",
      labelNames: ['policy'],
      registers: [this.registry],
    });
    this.skips = new Counter({
      name: 'aigw_admission_skipped_findings_total',
      help: 'Findings not applied because the object is exempted from the policy (skip annotation or config exclusion), by policy.',
      labelNames: ['policy'],
      registers: [this.registry],
    });
    this.httpErrors = new Counter({
      name: 'aigw_admission_http_errors_total',
      help: 'Requests refused before review (4xx) or failed (5xx), by endpoint and status code.',
      labelNames: ['endpoint', 'code'],
      registers: [this.registry],
    });
    this.connectionsDropped = new Counter({
      name: 'aigw_admission_connections_dropped_total',
      help: 'Connections closed before a request, by reason: handshake_timeout, handshake_failed, evicted (too many unfinished handshakes), first_request_timeout.',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.certReloads = new Counter({
      name: 'aigw_admission_cert_reloads_total',
      help: 'Serving certificate reloads by result: applied, or skipped because the new files failed the checks.',
      labelNames: ['result'],
      registers: [this.registry],
    });
    for (const [event, { name, help }] of Object.entries(OBSERVATION_COUNTERS)) {
      this.observationCounters.set(event, new TallyCounter({ name, help, labelNames: ['reason'], registers: [this.registry] }));
    }
    this.otherObservations = new Counter({
      name: 'aigw_admission_observations_total',
      help: 'Other things policies observed (structured log lines with the same event), by policy, event and reason.',
      labelNames: ['policy', 'event', 'reason'],
      registers: [this.registry],
    });
    this.eventWrites = new Counter({
      name: 'aigw_admission_kube_events_total',
      help: 'Kubernetes Events by result: created, deduplicated (same Event within the window), failed, dropped (queue full).',
      labelNames: ['result'],
      registers: [this.registry],
    });
    this.auditFindings = new Gauge({
      name: 'aigw_admission_audit_findings',
      help: 'Findings of the last background audit of the cluster, by policy and mode.',
      labelNames: ['policy', 'mode'],
      registers: [this.registry],
    });
    this.auditSkipped = new Gauge({
      name: 'aigw_admission_audit_skipped_findings',
      help: 'Findings of the last background audit on objects exempted from the policy (reported as skip), by policy.',
      labelNames: ['policy'],
      registers: [this.registry],
    });
    this.auditDuration = new Gauge({
      name: 'aigw_admission_audit_duration_seconds',
      help: 'How long the last background audit took (evaluation and PolicyReport writes).',
      registers: [this.registry],
    });
    const metrics = this;
    new OptionalGauge(
      'aigw_admission_ready',
      'Whether this replica is ready (1) or not (0), as /readyz answers; absent until the server runs.',
      () => (metrics.readiness ? (metrics.readiness() ? 1 : 0) : undefined),
      [this.registry],
    );
    new OptionalGauge(
      'aigw_admission_cache_synced_age_seconds',
      'Seconds since the cluster cache last had a confirmed complete view of every kind (0 while every watch is open); absent before the first sync and in standalone mode.',
      () => metrics.cacheAge?.(),
      [this.registry],
    );
    new Gauge({
      name: 'aigw_admission_cache_age_seconds',
      help: 'Seconds since the cluster cache last had a confirmed complete view of one kind (0 while its watch is open), by kind (group/Kind); absent for a kind before its first list and in standalone mode.',
      labelNames: ['kind'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { kind, seconds } of metrics.kindCacheAges?.() ?? []) if (seconds !== undefined) this.set({ kind }, seconds);
      },
    });
    new Gauge({
      name: 'aigw_admission_certificate_expiry_seconds',
      help: 'Seconds until the certificate expires (its notAfter; negative once expired), by certificate: serving (the TLS certificate the webhook presents) or ca (the CA in the webhook configurations\' caBundle).',
      labelNames: ['certificate'],
      registers: [this.registry],
      collect() {
        this.reset();
        const expiry = metrics.certificates?.();
        const now = Date.now();
        if (expiry?.serving) this.set({ certificate: 'serving' }, Math.round((expiry.serving.getTime() - now) / 1000));
        if (expiry?.ca) this.set({ certificate: 'ca' }, Math.round((expiry.ca.getTime() - now) / 1000));
      },
    });
  }

  /** Where the readiness gauge reads from, on each scrape (the same answer as /readyz). */
  observeReadiness(ready: () => boolean): void {
    this.readiness = ready;
  }

  /** Where the cache age gauges read from, on each scrape: the whole cache's, and each kind's. */
  observeCacheAge(age: () => number | undefined, perKind?: () => KindCacheAge[]): void {
    this.cacheAge = age;
    this.kindCacheAges = perKind;
  }

  /** Where the certificate expiry gauge reads the current certificates' notAfter from, on each scrape. */
  observeCertificates(expiry: () => CertificateExpiry): void {
    this.certificates = expiry;
  }

  audited(findings: readonly Finding[], seconds: number): void {
    // Reset first: a policy whose findings are gone must drop to absent, not keep its last count.
    this.auditFindings.reset();
    this.auditSkipped.reset();
    const counts = new Map<string, { policy: string; mode: string; n: number }>();
    for (const f of findings) {
      if (f.result === 'skip') {
        this.auditSkipped.inc({ policy: f.policy });
        continue;
      }
      const key = `${f.policy}|${f.mode}`;
      const c = counts.get(key) ?? { policy: f.policy, mode: f.mode, n: 0 };
      c.n++;
      counts.set(key, c);
    }
    for (const c of counts.values()) this.auditFindings.set({ policy: c.policy, mode: c.mode }, c.n);
    this.auditDuration.set(seconds);
  }

  eventWrite(result: 'created' | 'deduplicated' | 'failed' | 'dropped'): void {
    this.eventWrites.inc({ result });
  }

  observed(policy: string, event: string, reason: string): void {
    const counter = this.observationCounters.get(event);
    if (counter) counter.inc(reason, () => ({ reason }));
    else this.otherObservations.inc({ policy, event, reason });
  }

  reviewed(l: ReviewLabels, seconds: number): void {
    this.requests.incFor(this.reviewKey(l), reviewLabels, l);
    this.latency.observe(l.endpoint, l.endpoint === 'validate' ? VALIDATE_LABELS : MUTATE_LABELS, seconds);
  }

  /**
   * The counter key of a review's label set, made once per label set instead of a new string per review (a fresh key
   * must also be hashed for the lookup). Kinds past MAX_KEYED_KINDS get their key made each time.
   */
  private reviewKey(l: ReviewLabels): string {
    let keys = this.reviewKeys.get(l.kind);
    if (keys === undefined) {
      keys = [];
      if (this.reviewKeys.size < MAX_KEYED_KINDS) this.reviewKeys.set(l.kind, keys);
    }
    const operation = OPERATIONS.indexOf(l.operation as Operation);
    if (operation < 0) return `${l.endpoint}|${l.kind}|${l.operation}|${l.allowed}|${l.dryRun}`;
    const slot = ((l.endpoint === 'validate' ? 0 : OPERATIONS.length) + operation) * 4 + (l.allowed ? 2 : 0) + (l.dryRun ? 1 : 0);
    return (keys[slot] ??= `${l.endpoint}|${l.kind}|${l.operation}|${l.allowed}|${l.dryRun}`);
  }

  finding(policy: string, mode: string): void {
    this.findings.inc(`${policy}|${mode}`, () => ({ policy, mode }));
  }

  policyError(policy: string): void {
    this.policyErrors.inc({ policy });
  }

  policyAbandoned(policy: string): void {
    this.policiesAbandoned.inc({ policy });
  }

  skipped(policy: string): void {
    this.skips.inc({ policy });
  }
}
