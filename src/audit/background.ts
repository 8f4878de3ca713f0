import { performance } from 'node:perf_hooks';
import type { PolicySet } from '../review/policy-set.js';
import type { Logger } from '../review/deps.js';
import type { Finding } from '../kube/types.js';
import type { World } from '../world/world.js';
import { auditWorld } from './audit.js';
import { ReportBuilder, apiVersionOf, writeReports, type ReportClient, type WriteSummary } from './policy-report.js';

export type { AuditMetrics } from '../observe/metrics.js';
import type { AuditMetrics } from '../observe/metrics.js';

/** Calls `run` after `ms`; returns a cancel. Tests pass their own and fire it by hand. */
export type Scheduler = (run: () => void, ms: number) => () => void;

const timerScheduler: Scheduler = (run, ms) => {
  const t = setTimeout(run, ms);
  t.unref?.();
  return () => clearTimeout(t);
};

export interface BackgroundAuditOptions {
  world: World;
  policies: () => PolicySet;
  /** Seconds between runs, read before each wait (the config may have been reloaded); 0 stops the audit. */
  intervalSeconds: () => number;
  /** The Kubernetes minor to assume when the cluster has not told (the config's `kubernetesMinor`). */
  kubernetesMinor: () => number | undefined;
  reports: ReportClient | undefined;
  metrics: AuditMetrics;
  logger: Logger;
  now: () => Date;
  schedule?: Scheduler;
}

export interface AuditRun {
  findings: Finding[];
  objects: number;
  reports: WriteSummary | undefined;
  seconds: number;
}

/**
 * The audit inside `serve`: every interval, judges what the cluster cache already holds (no lists of its own) and
 * rewrites the PolicyReports. The first run comes one interval after start, once the cache has synced.
 */
export class BackgroundAudit {
  private cancel: (() => void) | undefined;
  private running: Promise<AuditRun | undefined> | undefined;
  private stopped = false;
  private readonly schedule: Scheduler;

  constructor(private readonly opts: BackgroundAuditOptions) {
    this.schedule = opts.schedule ?? timerScheduler;
  }

  start(): void {
    this.stopped = false;
    this.next();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancel?.();
    this.cancel = undefined;
    await this.running;
  }

  private next(): void {
    const seconds = this.opts.intervalSeconds();
    if (this.stopped || seconds <= 0) return;
    this.cancel = this.schedule(() => {
      this.cancel = undefined;
      void this.runOnce().finally(() => this.next());
    }, seconds * 1000);
  }

  /** One run now (a run already under way is joined, not doubled). Undefined when the cache has not synced yet. */
  runOnce(): Promise<AuditRun | undefined> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<AuditRun | undefined> {
    const { world, logger } = this.opts;
    if (!world.ready()) {
      logger.info({ event: 'audit_skipped', reason: 'cache-not-synced' }, 'background audit skipped: the cluster cache has not synced yet');
      return undefined;
    }
    const started = performance.now();
    // One moment per run: the findings are judged and the reports stamped at the same time.
    const at = this.opts.now();
    // The reports are built as the audit goes (no list of the judged objects); the findings are kept for the metrics.
    const findings: Finding[] = [];
    const builder = this.opts.reports ? new ReportBuilder(at) : undefined;
    const audit = auditWorld(
      world,
      { policies: this.opts.policies(), kubernetesMinor: world.kubernetesMinor() ?? this.opts.kubernetesMinor(), now: () => at },
      {
        finding: (f) => {
          findings.push(f);
          builder?.finding(f);
        },
        checked: (o) => builder?.checked(o),
      },
    );
    let reports: WriteSummary | undefined;
    if (this.opts.reports && builder) {
      try {
        reports = await writeReports(this.opts.reports, builder.reports(), { at });
      } catch (err) {
        logger.warn({ event: 'audit_report_failed', message: (err as Error).message }, 'background audit could not write its reports; retrying next run');
      }
    }
    const seconds = (performance.now() - started) / 1000;
    this.opts.metrics.audited(findings, seconds);
    const count = (mode: string) => findings.filter((f) => f.mode === mode).length;
    logger.info(
      {
        event: 'audit_finished',
        objects: audit.objects,
        findings: { deny: count('deny'), warn: count('warn'), audit: count('audit') },
        reports: reports && { apiVersion: apiVersionOf(reports.api), created: reports.created.length, updated: reports.updated.length, emptied: reports.emptied.length },
        seconds,
      },
      'background audit finished',
    );
    return { findings, objects: audit.objects, reports, seconds };
  }
}
