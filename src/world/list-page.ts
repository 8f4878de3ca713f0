import http from 'node:http';
import https from 'node:https';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '../kube/client.js';
import type { KubeObject } from '../kube/types.js';
import { apiVersionOf, KINDS, type KnownKind } from '../kube/registry.js';

/** A kind read from the API server: custom resources under `/apis/<group>/<version>`, or core pods (`group: ''`). */
export type ListedKind = Pick<KnownKind, 'key' | 'group' | 'plural' | 'versions' | 'labelSelector'>;

/** The kinds the webhook's cache lists and watches in all namespaces (from src/kube/registry.ts). */
export const CACHED_KINDS: readonly ListedKind[] = KINDS.filter((k) => k.cached === 'always');
/** The kinds the cache adds while the background audit runs (Envoy Gateway's proxy pods). */
export const AUDIT_CACHED_KINDS: readonly ListedKind[] = KINDS.filter((k) => k.cached === 'with-audit');

/**
 * Objects per list request, for the cache in `serve` and for the audit. Small enough that a page (its bytes as read,
 * its text and its parsed objects: about 2 MB for 100 real routes with managedFields) is parsed, slimmed and dropped
 * between two young-generation collections of V8, so what slimming drops dies young. Pages of 500 outlived a
 * collection most of the time and were promoted whole, managedFields, buffers and all, to wait for a full GC: serve's
 * RSS once ready with the cache of README "Performance" fell from 239 MB to 197 MB with pages of 100.
 */
export const LIST_PAGE_SIZE = 100;

export interface Page {
  items: KubeObject[];
  resourceVersion: string;
  /** The `continue` token of the next page; absent on the last one. */
  continue: string | undefined;
}

export type PageLister = (kind: ListedKind, version: string, opts: { namespace?: string; limit: number; continue?: string }) => Promise<Page>;

/** The API path of a kind (what a watch opens), for all namespaces or, with `namespace`, for one. */
export function apiPath(kind: ListedKind, version: string, namespace?: string): string {
  const root = kind.group === '' ? `/api/${version}` : `/apis/${kind.group}/${version}`;
  return namespace === undefined ? `${root}/${kind.plural}` : `${root}/namespaces/${encodeURIComponent(namespace)}/${kind.plural}`;
}

/** Bounds on one list request (no flag sets them; tests pass smaller ones). */
export interface ListRequestLimits {
  /**
   * The longest a request may take, connection to last byte. A page is 100 objects (a few MB), so this only trips on
   * an API server that stalled; the cache then retries as after any failed list instead of waiting forever.
   */
  timeoutMs: number;
  /** The most bytes of one answer buffered before it is refused (far above a page of 100 objects). */
  maxBytes: number;
}
export const LIST_REQUEST_LIMITS: ListRequestLimits = { timeoutMs: 60_000, maxBytes: 256 * 1024 * 1024 };

/**
 * A list the API server refused: `code` is the HTTP status (404 when the version is not served) and `body` the
 * Status it sent, which describeApiError (src/world/cluster-world.ts) turns into `HTTP 403: <its message>`.
 */
export class ListRequestFailed extends Error {
  constructor(
    readonly code: number,
    readonly body: unknown,
    path: string,
  ) {
    const detail = (body as { message?: unknown } | undefined)?.message;
    super(`GET ${path}: HTTP ${code}${typeof detail === 'string' ? `: ${detail}` : ''}`);
  }
}

/**
 * Pages of a list, for the life of the lister. The GETs go over one keep-alive agent: client-node makes a new agent,
 * so a new connection and TLS handshake, for every call, and the cache of README "Performance" takes about 270
 * pages. Headers and TLS material come from the KubeConfig on every request, so tokens that an exec plugin or OIDC
 * refreshes are sent fresh, and a changed client certificate gets a new agent. Items are handed out as parsed from
 * the wire: no typed models (CoreV1Api would turn timestamps into Dates).
 *
 * A cluster reached through `proxyUrl` keeps client-node's own path (its proxy agents), one connection per page.
 */
export function makePageLister(kc: KubeConfig, limits: ListRequestLimits = LIST_REQUEST_LIMITS): PageLister {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  if (cluster.proxyUrl) return clientNodePageLister(kc);
  const server = new URL(cluster.server);
  // A server URL may carry a path prefix (a cluster behind a gateway: https://host/k8s/clusters/c-1).
  const prefix = server.pathname.replace(/\/+$/, '');
  const agents = new KeepAliveAgents(server.protocol === 'https:');
  return async (kind, version, { namespace, limit, continue: token }) => {
    const query = [
      ...(kind.labelSelector ? [`labelSelector=${encodeURIComponent(kind.labelSelector)}`] : []),
      `limit=${limit}`,
      ...(token ? [`continue=${encodeURIComponent(token)}`] : []),
    ].join('&');
    const path = `${prefix}${apiPath(kind, version, namespace)}?${query}`;
    const page = (await getJson(kc, server, path, agents, limits)) as { items?: KubeObject[] | null; metadata?: { resourceVersion?: string; continue?: string } };
    return { items: page.items ?? [], resourceVersion: page.metadata?.resourceVersion ?? '', continue: page.metadata?.continue || undefined };
  };
}

/** What makes a TLS session: a change in any of these (a rotated client certificate) needs a new agent. */
const TLS_FIELDS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;
type TlsMaterial = Pick<https.AgentOptions, (typeof TLS_FIELDS)[number]>;

function sameValue(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  return a === b;
}

/**
 * The agent for the current TLS material. An agent replaced by a rotation is destroyed once the requests on it end
 * (destroying it at once would cut a page another kind is reading).
 */
class KeepAliveAgents {
  private current: { agent: http.Agent; tls: TlsMaterial; inFlight: number } | undefined;
  private readonly retired = new Map<http.Agent, { inFlight: number }>();

  constructor(private readonly secure: boolean) {}

  /** The agent to use for one request; call the returned `done` when it ends. */
  take(tls: TlsMaterial): { agent: http.Agent; done: () => void } {
    if (this.current && (!this.secure || TLS_FIELDS.every((f) => sameValue(this.current!.tls[f], tls[f])))) {
      return this.use(this.current);
    }
    if (this.current) this.retire(this.current);
    const agent = this.secure ? new https.Agent({ keepAlive: true, ...tls }) : new http.Agent({ keepAlive: true });
    this.current = { agent, tls, inFlight: 0 };
    return this.use(this.current);
  }

  private use(slot: { agent: http.Agent; inFlight: number }): { agent: http.Agent; done: () => void } {
    slot.inFlight++;
    let ended = false;
    return {
      agent: slot.agent,
      done: () => {
        if (ended) return;
        ended = true;
        slot.inFlight--;
        if (slot.inFlight === 0 && this.retired.has(slot.agent)) {
          this.retired.delete(slot.agent);
          slot.agent.destroy();
        }
      },
    };
  }

  private retire(slot: { agent: http.Agent; inFlight: number }): void {
    if (slot.inFlight === 0) slot.agent.destroy();
    else this.retired.set(slot.agent, slot);
  }
}

/** One GET with the KubeConfig's credentials over the kept-alive agent; the body parsed once. */
async function getJson(kc: KubeConfig, server: URL, path: string, agents: KeepAliveAgents, limits: ListRequestLimits): Promise<unknown> {
  const opts: https.RequestOptions = {};
  // Headers (Authorization, Impersonate-User), basic auth and TLS material; the agent it makes is not used.
  await kc.applyToHTTPSOptions(opts);
  const tls: TlsMaterial = {};
  for (const f of TLS_FIELDS) if (opts[f] !== undefined) (tls as Record<string, unknown>)[f] = opts[f];
  for (let attempt = 1; ; attempt++) {
    const { agent, done } = agents.take(tls);
    try {
      return await requestJson(server, path, limits, { headers: { ...opts.headers, accept: 'application/json' }, auth: opts.auth, agent, ...tls });
    } catch (err) {
      // A kept-alive connection the server closed while idle: the GET never reached it, so it is sent again, once.
      if (attempt === 1 && (err as { reusedSocket?: boolean }).reusedSocket && (err as { code?: string }).code === 'ECONNRESET') continue;
      throw err;
    } finally {
      done();
    }
  }
}

function requestJson(server: URL, path: string, limits: ListRequestLimits, opts: https.RequestOptions): Promise<unknown> {
  const send = server.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    let settled = false;
    // The first outcome wins; whatever the stream reports after it (its end, or the error of a destroyed socket) is moot.
    const settle = (err: Error | undefined, body?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (err) reject(err);
      else resolve(body);
    };
    const req = send({ ...opts, method: 'GET', protocol: server.protocol, hostname: server.hostname.replace(/^\[|\]$/g, ''), port: server.port, path }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > limits.maxBytes) {
          settle(new Error(`GET ${path}: the answer exceeds ${limits.maxBytes} bytes; list in smaller pages`));
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (err) => settle(err));
      res.on('end', () => {
        if (settled) return;
        const text = Buffer.concat(chunks, bytes).toString('utf8');
        const status = res.statusCode ?? 0;
        const ok = status >= 200 && status < 300;
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          if (ok) return settle(new Error(`GET ${path}: HTTP ${status} with a body that is not JSON`));
          body = text;
        }
        settle(ok ? undefined : new ListRequestFailed(status, body, path), body);
      });
    });
    const deadline = setTimeout(() => {
      settle(new Error(`GET ${path}: no complete answer within ${limits.timeoutMs} ms`));
      req.destroy();
    }, limits.timeoutMs);
    req.on('error', (err) => {
      // Remembered for the one retry of a request sent on a connection the server had just closed.
      if (req.reusedSocket) (err as { reusedSocket?: boolean }).reusedSocket = true;
      settle(err);
    });
    req.end();
  });
}

/** The same through client-node's API classes (a new agent, so a new connection, per call): for clusters behind a proxy. */
function clientNodePageLister(kc: KubeConfig): PageLister {
  const custom = kc.makeApiClient(CustomObjectsApi);
  let core: CoreV1Api | undefined;
  return async (kind, version, { namespace, limit, continue: token }) => {
    const common = { labelSelector: kind.labelSelector, limit, _continue: token };
    let page: { items?: unknown[]; metadata?: { resourceVersion?: string; _continue?: string; continue?: string } };
    if (kind.group === '') {
      if (kind.plural !== 'pods' || version !== 'v1') throw new Error(`listing core ${version} ${kind.plural} is not supported`);
      core ??= kc.makeApiClient(CoreV1Api);
      const typed = namespace === undefined ? await core.listPodForAllNamespaces(common) : await core.listNamespacedPod({ namespace, ...common });
      // Typed models turn timestamps into Dates; a JSON round trip gives back the wire shape.
      page = JSON.parse(JSON.stringify(typed));
      page.items = (page.items ?? []).map((p) => ({ apiVersion: 'v1', kind: 'Pod', ...(p as object) }));
    } else {
      const args = { group: kind.group, version, plural: kind.plural, ...common };
      page = (namespace === undefined ? await custom.listClusterCustomObject(args) : await custom.listNamespacedCustomObject({ ...args, namespace })) as typeof page;
    }
    return {
      items: (page.items ?? []) as KubeObject[],
      resourceVersion: page.metadata?.resourceVersion ?? '',
      continue: page.metadata?.continue || page.metadata?._continue || undefined,
    };
  };
}

/** Every object of a kind, in pages; `undefined` when no version of it is served (its CRD is not installed). */
export async function listAll(
  listPage: PageLister,
  kind: ListedKind,
  opts: { namespace?: string; pageSize: number; onPage?: (listed: number) => void },
): Promise<{ items: KubeObject[]; version: string } | undefined> {
  let items: KubeObject[] = [];
  const version = await listEach(listPage, kind, opts, () => {
    items = [];
    return (o) => items.push(o);
  });
  return version === undefined ? undefined : { items, version };
}

/**
 * Every object of a kind, page by page, handed to `take` as each page arrives; nothing of a page is kept here, so a
 * caller that keeps less of each object (or nothing) holds at most one page at a time. `begin` is called before the
 * first page of each version tried and gives the `take` for it (a version that turns out not to be served starts
 * over). Returns the version listed, or `undefined` when none is served (its CRD is not installed).
 */
export async function listEach(
  listPage: PageLister,
  kind: ListedKind,
  opts: { namespace?: string; pageSize: number; onPage?: (listed: number) => void },
  begin: (version: string) => (o: KubeObject) => void,
): Promise<string | undefined> {
  for (const version of kind.versions) {
    const take = begin(version);
    let listed = 0;
    let token: string | undefined;
    try {
      do {
        const page = await listPage(kind, version, { namespace: opts.namespace, limit: opts.pageSize, continue: token });
        // Lists of built-in kinds leave apiVersion and kind off their items; the world keys objects by them.
        for (const o of page.items) take(o.kind && o.apiVersion ? o : { ...o, apiVersion: apiVersionOf(kind, version), kind: kind.key.split('/')[1] });
        listed += page.items.length;
        token = page.continue;
        opts.onPage?.(listed);
      } while (token);
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) continue;
      throw new ListFailed(kind, version, err);
    }
    return version;
  }
  return undefined;
}

/** A list that failed for another reason than a missing CRD; names the group, version and resource. */
export class ListFailed extends Error {
  constructor(
    readonly kind: ListedKind,
    readonly version: string,
    override readonly cause: unknown,
  ) {
    super(`listing ${kind.group ? `${kind.group}/${version}` : version} ${kind.plural} failed`);
  }
}
