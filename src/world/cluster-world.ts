import { performance } from 'node:perf_hooks';
import { VersionApi, Watch, type KubeConfig } from '../kube/client.js';
import type { Logger } from '../review/deps.js';
import type { KubeObject } from '../kube/types.js';
import { WORLD_KEYS } from '../kube/registry.js';
import { parseKubernetesMinor, type World } from './world.js';
import { slimForCache, StringTable } from './slim.js';
import { NamespacedStore } from './store.js';

export { parseKubernetesMinor };
import { AUDIT_CACHED_KINDS, CACHED_KINDS, LIST_PAGE_SIZE, apiPath, makePageLister, type ListedKind, type PageLister } from './list-page.js';

/** A kind the cache lists and watches in all namespaces; versions are tried in order (the first served one wins). */
export type WatchedKind = ListedKind;

/** What the cache holds (src/kube/registry.ts: `cached: 'always'`). */
export const CLUSTER_KINDS: readonly WatchedKind[] = CACHED_KINDS;

/** Envoy Gateway's proxy pods: what the audit checks for the ext_proc sidecar (cached only when the audit runs in serve). */
export const PROXY_POD_KIND: WatchedKind = AUDIT_CACHED_KINDS.find((k) => k.key === WORLD_KEYS.pod)!;

export interface ClusterWorldOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  now?: () => Date;
  kinds?: readonly WatchedKind[];
  /** Objects per list page (`limit`). */
  pageSize?: number;
  /** Asked of the API server per watch (`timeoutSeconds`); it then closes the stream and the cache re-watches. */
  watchTimeoutSeconds?: number;
  /** Delay between failed attempts, doubling from `initialMs` up to `maxMs`. */
  retry?: { initialMs: number; maxMs: number };
  /** How often a kind whose CRD is not installed is looked for again. */
  notInstalledRetryMs?: number;
}

export type KindState = 'listing' | 'watching' | 'disconnected' | 'not-installed' | 'stopped';

export interface KindStatus {
  key: string;
  state: KindState;
  version: string | undefined;
  objects: number;
  resourceVersion: string;
  synced: boolean;
  confirmedAt: Date | undefined;
}

type WatchOutcome = { kind: 'expired' } | { kind: 'closed'; events: number; lastedMs: number } | { kind: 'failed'; message: string } | { kind: 'stopped' };

const DEFAULTS = { pageSize: LIST_PAGE_SIZE, watchTimeoutSeconds: 300, retry: { initialMs: 500, maxMs: 30_000 }, notInstalledRetryMs: 60_000 };

function statusCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown } | null;
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return undefined;
}

/** A short reason for a failed API call: `HTTP 403: <Status message>`, or the network error code. */
export function describeApiError(err: unknown): string {
  const code = statusCode(err);
  const body = (err as { body?: unknown } | null)?.body;
  const status = typeof body === 'string' ? safeJson(body) : body;
  const detail = (status as { message?: unknown } | undefined)?.message;
  if (code !== undefined) return `HTTP ${code}${typeof detail === 'string' ? `: ${detail}` : ''}`;
  // Network failures (node-fetch FetchError, undici): the system error code says it best (ECONNREFUSED, ECONNRESET).
  const e = err as { message?: string; cause?: { code?: string }; code?: unknown } | null;
  if (typeof e?.code === 'string') return e.code;
  return e?.cause?.code ?? e?.message ?? String(err);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}


/** A cancellable pause: `stop()` ends every pause at once instead of waiting out a retry delay. */
class Pauses {
  private readonly pending = new Set<() => void>();
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.pending.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref?.();
      this.pending.add(done);
    });
  }
  cancelAll(): void {
    for (const done of [...this.pending]) done();
  }
}

/** One kind: list (in pages) → watch from the list's resourceVersion → on expiry relist; on failure back off and retry. */
class KindCache {
  store = new NamespacedStore();
  resourceVersion = '';
  state: KindState = 'listing';
  synced = false;
  private versionIndex = 0;
  private servedVersion: string | undefined;
  private lastConfirmed: Date | undefined;
  private notInstalledLogged = false;
  private abortWatch: (() => void) | undefined;
  private stopped = false;

  constructor(
    readonly kind: WatchedKind,
    private readonly ctx: {
      listPage: PageLister;
      watch: Watch;
      logger: Logger;
      now: () => Date;
      pauses: Pauses;
      changed: () => void;
      /** Shared by every kind: namespaces, groups and label values repeat across kinds. */
      strings: StringTable;
      pageSize: number;
      watchTimeoutSeconds: number;
      retry: { initialMs: number; maxMs: number };
      notInstalledRetryMs: number;
    },
  ) {}

  /**
   * The last moment this kind's view was known complete: now while a watch stream is open (or while the CRD is known
   * absent; that is checked again every notInstalledRetryMs), else when the stream closed or the last list finished.
   */
  confirmedAt(): Date | undefined {
    return this.state === 'watching' || this.state === 'not-installed' ? this.ctx.now() : this.lastConfirmed;
  }

  status(): KindStatus {
    return {
      key: this.kind.key,
      state: this.state,
      version: this.servedVersion,
      objects: this.store.size,
      resourceVersion: this.resourceVersion,
      synced: this.synced,
      confirmedAt: this.confirmedAt(),
    };
  }

  stop(): void {
    this.stopped = true;
    this.state = 'stopped';
    this.abortWatch?.();
  }

  async run(): Promise<void> {
    let failures = 0;
    const backoff = () => Math.min(this.ctx.retry.maxMs, this.ctx.retry.initialMs * 2 ** Math.min(failures++, 16));
    while (!this.stopped) {
      if (!this.resourceVersion) {
        const listed = await this.list();
        if (this.stopped) return;
        if (listed === 'absent') {
          await this.ctx.pauses.wait(this.ctx.notInstalledRetryMs);
          continue;
        }
        if (listed === 'failed') {
          await this.ctx.pauses.wait(backoff());
          continue;
        }
        failures = 0;
      }
      const outcome = await this.watchOnce();
      if (this.stopped || outcome.kind === 'stopped') return;
      this.setState('disconnected');
      if (outcome.kind === 'expired') {
        this.ctx.logger.info(
          { event: 'cache_watch_expired', kind: this.kind.key, resourceVersion: this.resourceVersion },
          'watch resourceVersion expired (410 Gone); listing again',
        );
        this.resourceVersion = '';
        continue;
      }
      if (outcome.kind === 'closed') {
        // The API server ends every watch after timeoutSeconds: re-watch at once. One that ends at once, empty-handed,
        // again and again, gets the back-off instead of a busy loop.
        if (outcome.events > 0 || outcome.lastedMs >= 10_000) failures = 0;
        else await this.ctx.pauses.wait(backoff());
        continue;
      }
      const retryInMs = backoff();
      this.ctx.logger.warn(
        { event: 'cache_watch_failed', kind: this.kind.key, message: outcome.message, retryInMs, syncedAt: this.lastConfirmed?.toISOString() },
        'watch failed; reviews use the last synced state until it reconnects',
      );
      await this.ctx.pauses.wait(retryInMs);
    }
  }

  private setState(state: KindState): void {
    if (this.stopped) return;
    // Leaving an open stream: it was complete up to this moment.
    if ((this.state === 'watching' || this.state === 'not-installed') && state !== this.state) this.lastConfirmed = this.ctx.now();
    this.state = state;
    this.ctx.changed();
  }

  /** Every page of every namespace; the store is replaced only once the last page arrived. */
  private async list(): Promise<'ok' | 'absent' | 'failed'> {
    this.setState('listing');
    const versions = this.kind.versions;
    let missing = 0;
    for (let tried = 0; tried < versions.length; tried++) {
      const version = versions[(this.versionIndex + tried) % versions.length]!;
      try {
        const items = new NamespacedStore();
        let token: string | undefined;
        let resourceVersion = '';
        do {
          const page = await this.ctx.listPage(this.kind, version, { limit: this.ctx.pageSize, continue: token });
          if (this.stopped) return 'failed';
          for (const o of page.items) items.set(slimForCache(o, this.ctx.strings));
          token = page.continue;
          resourceVersion = page.resourceVersion;
        } while (token);
        this.versionIndex = (this.versionIndex + tried) % versions.length;
        this.servedVersion = version;
        this.store = items;
        this.resourceVersion = resourceVersion;
        this.lastConfirmed = this.ctx.now();
        const first = !this.synced;
        this.synced = true;
        if (this.notInstalledLogged) {
          this.notInstalledLogged = false;
          this.ctx.logger.info({ event: 'cache_kind_installed', kind: this.kind.key, version }, 'CRD found; caching it from now on');
        }
        this.ctx.logger.info(
          { event: 'cache_listed', kind: this.kind.key, version, objects: items.size, resourceVersion, first },
          first ? 'listed' : 'listed again',
        );
        this.ctx.changed();
        return 'ok';
      } catch (err) {
        if (this.stopped) return 'failed';
        if (statusCode(err) === 404) {
          missing++;
          continue;
        }
        this.ctx.logger.warn(
          { event: 'cache_list_failed', kind: this.kind.key, version, message: describeApiError(err) },
          'list failed; retrying',
        );
        this.setState('disconnected');
        return 'failed';
      }
    }
    // Every version answered 404: the CRD is not installed. Empty is the truth then, so the kind counts as synced.
    if (missing === versions.length) {
      if (!this.notInstalledLogged) {
        this.notInstalledLogged = true;
        this.ctx.logger.warn(
          {
            event: 'cache_kind_not_installed',
            kind: this.kind.key,
            tried: versions.map((v) => `${this.kind.group}/${v} ${this.kind.plural}`),
            retryInMs: this.ctx.notInstalledRetryMs,
          },
          'CRD not installed: treating the kind as empty and looking again periodically',
        );
      }
      this.store = new NamespacedStore();
      this.resourceVersion = '';
      this.servedVersion = undefined;
      this.synced = true;
      this.lastConfirmed = this.ctx.now();
      this.state = 'not-installed';
      this.ctx.changed();
    }
    return 'absent';
  }

  private watchOnce(): Promise<WatchOutcome> {
    const version = this.servedVersion!;
    const path = apiPath(this.kind, version);
    const idleLimitMs = (this.ctx.watchTimeoutSeconds + 60) * 1000;
    return new Promise<WatchOutcome>((resolve) => {
      let settled = false;
      let controller: AbortController | undefined;
      let abortedFor: WatchOutcome | undefined;
      let errorStatus: string | undefined;
      let events = 0;
      let idleTimer: NodeJS.Timeout | undefined;
      const openedAt = performance.now();
      const finish = (outcome: WatchOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(idleTimer);
        this.abortWatch = undefined;
        controller?.abort();
        resolve(outcome);
      };
      const abortWith = (outcome: WatchOutcome) => {
        abortedFor = outcome;
        if (controller) controller.abort();
        finish(outcome);
      };
      // A silently dead connection sends nothing: the server would have closed it after timeoutSeconds.
      const armIdleTimer = () => {
        clearTimeout(idleTimer);
        idleTimer = setTimeout(() => abortWith({ kind: 'failed', message: `no data from the watch for ${idleLimitMs / 1000}s` }), idleLimitMs);
        idleTimer.unref?.();
      };
      this.abortWatch = () => abortWith({ kind: 'stopped' });

      const onEvent = (type: string, obj: KubeObject & { code?: number; reason?: string; message?: string }) => {
        if (settled) return;
        armIdleTimer();
        if (type === 'ERROR') {
          if (obj?.code === 410) abortWith({ kind: 'expired' });
          else errorStatus = `watch ERROR event: ${obj?.code ?? ''} ${obj?.reason ?? ''} ${obj?.message ?? ''}`.replace(/\s+/g, ' ').trim();
          return;
        }
        if (type === 'ADDED' || type === 'MODIFIED') this.store.set(slimForCache(obj, this.ctx.strings));
        else if (type === 'DELETED') this.store.delete(obj?.metadata?.namespace ?? '', obj?.metadata?.name ?? '');
        else if (type !== 'BOOKMARK') return;
        const rv = obj?.metadata?.resourceVersion;
        if (typeof rv === 'string' && rv) this.resourceVersion = rv;
        events++;
        this.ctx.changed();
      };
      const onDone = (err: unknown) => {
        if (settled) return;
        if (abortedFor) return finish(abortedFor);
        if (statusCode(err) === 410) return finish({ kind: 'expired' });
        if (statusCode(err) === 404) return finish({ kind: 'expired' }); // CRD removed or version gone: relist finds out
        if (err) return finish({ kind: 'failed', message: describeApiError(err) });
        if (errorStatus) return finish({ kind: 'failed', message: errorStatus });
        finish({ kind: 'closed', events, lastedMs: performance.now() - openedAt });
      };

      armIdleTimer();
      this.ctx.watch
        .watch(
          path,
          {
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: this.ctx.watchTimeoutSeconds,
            ...(this.kind.labelSelector ? { labelSelector: this.kind.labelSelector } : {}),
          },
          onEvent,
          onDone,
        )
        .then(
          (c) => {
            controller = c;
            if (settled) c.abort();
            else this.setState('watching');
          },
          (err: unknown) => onDone(err),
        );
    });
  }
}

/**
 * The World `serve` reads: every watched kind, all namespaces, kept current by list + watch. Lookups are memory reads.
 *
 * `syncedAt()` is the oldest, over all kinds, of the last moment each kind's view was known complete: now while its
 * watch stream is open, else when its stream closed or its last list (or not-installed check) finished. A reconnect
 * that resumes from the last resourceVersion catches up on missed events; an expired one (410) relists.
 */
export class ClusterWorld implements World {
  private readonly caches: KindCache[];
  private readonly byKey = new Map<string, KindCache>();
  private readonly now: () => Date;
  private readonly logger: Logger;
  private readonly versionApi: VersionApi;
  private readonly pauses = new Pauses();
  private readonly listeners = new Set<() => void>();
  private readonly retry: { initialMs: number; maxMs: number };
  private minor: number | undefined;
  private versionKnown = false;
  private wasReady = false;
  private started = false;
  private stopped = false;
  private readonly startedAt: number;

  constructor(options: ClusterWorldOptions) {
    this.now = options.now ?? (() => new Date());
    this.logger = options.logger;
    this.retry = options.retry ?? DEFAULTS.retry;
    this.startedAt = this.now().getTime();
    this.versionApi = options.kubeConfig.makeApiClient(VersionApi);
    const watch = new Watch(options.kubeConfig);
    const ctx = {
      listPage: makePageLister(options.kubeConfig),
      watch,
      logger: options.logger,
      now: this.now,
      pauses: this.pauses,
      changed: () => this.changed(),
      strings: new StringTable(),
      pageSize: options.pageSize ?? DEFAULTS.pageSize,
      watchTimeoutSeconds: options.watchTimeoutSeconds ?? DEFAULTS.watchTimeoutSeconds,
      retry: this.retry,
      notInstalledRetryMs: options.notInstalledRetryMs ?? DEFAULTS.notInstalledRetryMs,
    };
    this.caches = (options.kinds ?? CLUSTER_KINDS).map((k) => new KindCache(k, ctx));
    for (const c of this.caches) this.byKey.set(c.kind.key, c);
  }

  /** Starts listing and watching; returns at once (readiness says when the first full view arrived). */
  start(): void {
    if (this.started) return;
    this.started = true;
    void this.fetchVersion();
    for (const c of this.caches) void c.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const c of this.caches) c.stop();
    this.pauses.cancelAll();
  }

  /** Called after every change of contents or state (tests wait on it; nothing on the review path). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once `predicate` holds, checked now and after every change. */
  until(predicate: (world: ClusterWorld) => boolean): Promise<void> {
    if (predicate(this)) return Promise.resolve();
    return new Promise((resolve) => {
      const off = this.onChange(() => {
        if (predicate(this)) {
          off();
          resolve();
        }
      });
    });
  }

  private changed(): void {
    if (!this.wasReady && this.ready()) {
      this.wasReady = true;
      this.logger.info(
        {
          event: 'cache_synced',
          kinds: Object.fromEntries(this.caches.map((c) => [c.kind.key, c.state === 'not-installed' ? 'not installed' : c.store.size])),
          kubernetesMinor: this.minor,
          ms: this.now().getTime() - this.startedAt,
        },
        'cluster cache synced; ready',
      );
    }
    for (const l of [...this.listeners]) l();
  }

  private async fetchVersion(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        const info = await this.versionApi.getCode();
        const minor = parseKubernetesMinor(info.minor);
        if (minor === undefined) throw new Error(`GET /version answered minor ${JSON.stringify(info.minor)}; expected a number such as "33" or "33+"`);
        this.minor = minor;
        this.versionKnown = true;
        this.logger.info({ event: 'kubernetes_version', gitVersion: info.gitVersion, minor }, 'Kubernetes version');
        this.changed();
        return;
      } catch (err) {
        if (this.stopped) return;
        const retryInMs = Math.min(this.retry.maxMs, this.retry.initialMs * 2 ** Math.min(failures++, 16));
        this.logger.warn({ event: 'kubernetes_version_failed', message: describeApiError(err), retryInMs }, 'GET /version failed; retrying');
        await this.pauses.wait(retryInMs);
      }
    }
  }

  get(groupKind: string, namespace: string, name: string): KubeObject | undefined {
    return this.byKey.get(groupKind)?.store.get(namespace, name);
  }

  list(groupKind: string, namespace?: string): KubeObject[] {
    return this.byKey.get(groupKind)?.store.list(namespace) ?? [];
  }

  /** A watched kind once its first full list arrived (a kind whose CRD is not installed is known to be empty). */
  covers(groupKind: string): boolean {
    return this.byKey.get(groupKind)?.synced ?? false;
  }

  kubernetesMinor(): number | undefined {
    return this.minor;
  }

  /** True once every kind has had one full list (or was found not installed) and the version is known; stays true. */
  ready(): boolean {
    return this.wasReady || (this.versionKnown && this.caches.every((c) => c.synced));
  }

  syncedAt(): Date | undefined {
    if (!this.ready()) return undefined;
    let oldest: Date | undefined;
    for (const c of this.caches) {
      const at = c.confirmedAt();
      if (!at) return undefined;
      if (!oldest || at < oldest) oldest = at;
    }
    return oldest;
  }

  status(): KindStatus[] {
    return this.caches.map((c) => c.status());
  }
}
