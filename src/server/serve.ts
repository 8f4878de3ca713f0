import { join, resolve } from 'node:path';
import { ALL_POLICIES } from '../../policies/index.js';
import { ConfigHolder } from '../config/holder.js';
import { createLogger } from '../observe/logger.js';
import { packageVersion } from '../observe/build-info.js';
import { Metrics } from '../observe/metrics.js';
import { createWebhookServer, type WebhookServer } from './server.js';
import { TLS_FILES } from '../tls/certs.js';
import { tlsDirSource, type ServingCerts, type ServingCertSource } from '../tls/source.js';
import { MemoryWorld, type World } from '../world/world.js';
import type { ClusterWorld, ClusterWorldOptions } from '../world/cluster-world.js';
import type { KubeEventSink, KubeEventSinkOptions } from '../world/kube-events.js';
import type { BackgroundAudit, Scheduler } from '../audit/background.js';
import type { ReportClient } from '../audit/policy-report.js';
import type { Logger, ReviewDeps } from '../review/deps.js';
import type { Config } from '../config/config.js';
import type { KubeConfig } from '../kube/client.js';
import type { AnyPolicy } from '../review/policy.js';
import { FailurePolicyEnforcer, type FailurePolicyEnforcerOptions } from '../cluster/failure-policy.js';

export interface ServeOptions {
  host: string;
  port: number;
  tlsDir: string;
  configPath?: string;
  standalone: boolean;
  /** See WebhookServerOptions.shutdownDelayMs (default: 5 s in a cluster, 0 standalone). */
  shutdownDelayMs?: number;
  /** PEM CA for client authentication (see WebhookServerOptions.clientCa). */
  clientCa?: string;
  /** Name the certificate is made for when it has to be created. */
  service?: string;
  namespace?: string;
  logger?: Logger;
  policies?: readonly AnyPolicy[];
  world?: World;
  now?: () => Date;
  /** Where the serving certificate comes from (default: `tlsDir`, created when absent, re-read when renewed). */
  certs?: ServingCertSource;
  /** Cluster mode: raise the webhook entries to their declared failure policy once ready (install safety). */
  failurePolicy?: Omit<FailurePolicyEnforcerOptions, 'ready' | 'logger'>;
  /** Cluster mode (not standalone): the cluster to cache and to write Events to. */
  kubeConfig?: KubeConfig;
  /** Events' reportingInstance: the pod name. */
  podName?: string;
  /** Tuning of the cache and the Event writer (tests shorten the retry delays). */
  cluster?: Partial<Omit<ClusterWorldOptions, 'kubeConfig' | 'logger'>>;
  eventSink?: Partial<Omit<KubeEventSinkOptions, 'kubeConfig' | 'logger' | 'reportingInstance'>>;
  /** The background audit's timer and report writer (tests fire runs by hand and may fake the writer). */
  audit?: { schedule?: Scheduler; reports?: ReportClient };
}

export interface RunningServer {
  url: string;
  caPath: string;
  port: number;
  webhook: WebhookServer;
  config: ConfigHolder;
  metrics: Metrics;
  world: World;
  /** The Event writer, in cluster mode. */
  events: KubeEventSink | undefined;
  /** The background audit, in cluster mode with `audit.intervalSeconds` > 0 at start. */
  audit: BackgroundAudit | undefined;
  close(): Promise<void>;
}

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const logger = opts.logger ?? createLogger();
  const config = new ConfigHolder(opts.policies ?? ALL_POLICIES, opts.configPath);
  const metrics = new Metrics({ processMetrics: true, version: packageVersion() });
  const now = opts.now ?? (() => new Date());
  const cluster = !opts.standalone && opts.kubeConfig ? opts.kubeConfig : undefined;
  // Imported only in cluster mode: they pull in @kubernetes/client-node (about 70 MB), which standalone never uses.
  const clusterModule = cluster ? await import('../world/cluster-world.js') : undefined;
  // The audit reads proxy pods from the cache too, so they are watched only when it runs.
  const auditing = Boolean(cluster) && config.config.audit.intervalSeconds > 0;
  const clusterWorld: ClusterWorld | undefined =
    clusterModule && cluster && !opts.world
      ? new clusterModule.ClusterWorld({
          kubeConfig: cluster,
          logger,
          now,
          kinds: auditing ? [...clusterModule.CLUSTER_KINDS, clusterModule.PROXY_POD_KIND] : clusterModule.CLUSTER_KINDS,
          ...opts.cluster,
        })
      : undefined;
  const world = opts.world ?? clusterWorld ?? new MemoryWorld([], { kubernetesMinor: config.config.kubernetesMinor });
  const events: KubeEventSink | undefined = cluster
    ? new (await import('../world/kube-events.js')).KubeEventSink({ kubeConfig: cluster, logger, now, metrics, reportingInstance: opts.podName ?? 'aigw-admission', ...opts.eventSink })
    : undefined;
  if (clusterWorld) {
    metrics.observeCacheAge(() => {
      const at = clusterWorld.syncedAt();
      return at ? Math.max(0, (now().getTime() - at.getTime()) / 1000) : undefined;
    });
  }
  const tlsDir = resolve(opts.tlsDir);
  const extraSans = ['localhost', '127.0.0.1'];
  if (opts.host !== '0.0.0.0' && opts.host !== '::' && !extraSans.includes(opts.host)) extraSans.push(opts.host);
  const certs =
    opts.certs ??
    tlsDirSource(tlsDir, { service: opts.service ?? 'aigw-admission', namespace: opts.namespace ?? 'aigw-admission', extraSans }, logger);
  let renew: (c: ServingCerts) => void = () => {};
  const tls = await certs.start((c) => renew(c));

  // Rebuilt only when the config is reloaded, not per review.
  let depsFor: Readonly<Config> | undefined;
  let currentDeps: ReviewDeps | undefined;
  const deps = (): ReviewDeps => {
    if (currentDeps === undefined || depsFor !== config.config) {
      depsFor = config.config;
      currentDeps = {
        policies: config.policies,
        world,
        now,
        logger,
        metrics,
        events,
        staleAfterSeconds: depsFor.cache.staleAfterSeconds,
        deadlineMs: depsFor.server.reviewDeadlineMs,
      };
    }
    return currentDeps;
  };
  const readiness = () => {
    const reasons: string[] = [];
    if (config.policies.active.length === 0 && config.policies.all.length > 0) reasons.push('no policy enabled');
    if (!world.ready()) reasons.push('cluster cache not synced yet');
    return { ready: reasons.length === 0, reasons };
  };
  metrics.observeReadiness(() => readiness().ready);
  const webhook = createWebhookServer({
    host: opts.host,
    port: opts.port,
    tls,
    deps,
    maxBodyBytes: () => config.config.server.maxBodyBytes,
    largeBodyBytes: () => config.config.server.largeBodyBytes,
    maxLargeReviews: () => config.config.server.maxLargeReviews,
    clientCa: opts.clientCa,
    shutdownDelayMs: opts.shutdownDelayMs ?? (opts.standalone ? 0 : 5000),
    metrics,
    logger,
    readiness,
  });
  // A renewed certificate goes to new handshakes; open connections keep theirs.
  renew = (c) => webhook.setTls(c);
  // The cache starts before the listener: /readyz says not ready until its first full list.
  clusterWorld?.start();
  let address;
  try {
    address = await webhook.listen();
  } catch (err) {
    certs.stop();
    await clusterWorld?.stop();
    throw err;
  }
  config.watch(logger);
  const enforcer = opts.failurePolicy ? new FailurePolicyEnforcer({ ...opts.failurePolicy, ready: () => readiness().ready, logger }) : undefined;
  enforcer?.start();
  const audit: BackgroundAudit | undefined =
    auditing && cluster
      ? new (await import('../audit/background.js')).BackgroundAudit({
          world,
          policies: () => config.policies,
          intervalSeconds: () => config.config.audit.intervalSeconds,
          kubernetesMinor: () => config.config.kubernetesMinor,
          reports: opts.audit?.reports ?? (await import('../audit/policy-report.js')).kubeReportClient(cluster, config.config.audit.reports, logger),
          metrics,
          logger,
          now,
          schedule: opts.audit?.schedule,
        })
      : undefined;
  audit?.start();
  const shownHost = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  return {
    url: `https://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${address.port}`,
    caPath: join(tlsDir, TLS_FILES.ca),
    port: address.port,
    webhook,
    config,
    metrics,
    world,
    events,
    audit,
    close: async () => {
      config.unwatch();
      enforcer?.stop();
      await audit?.stop();
      certs.stop();
      await webhook.shutdown();
      await clusterWorld?.stop();
      await events?.idle(2000);
    },
  };
}
