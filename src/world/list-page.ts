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

/** The API path of a kind (what a watch opens), for all namespaces. */
export function apiPath(kind: ListedKind, version: string): string {
  return kind.group === '' ? `/api/${version}/${kind.plural}` : `/apis/${kind.group}/${version}/${kind.plural}`;
}

/**
 * One page of a list. Core kinds go through CoreV1Api, whose typed models turn timestamps into Dates; a JSON round
 * trip gives back the wire shape, so both paths hand out the same kind of plain objects.
 */
export function makePageLister(kc: KubeConfig): PageLister {
  const custom = kc.makeApiClient(CustomObjectsApi);
  let core: CoreV1Api | undefined;
  return async (kind, version, { namespace, limit, continue: token }) => {
    const common = { labelSelector: kind.labelSelector, limit, _continue: token };
    let page: { items?: unknown[]; metadata?: { resourceVersion?: string; _continue?: string; continue?: string } };
    if (kind.group === '') {
      if (kind.plural !== 'pods' || version !== 'v1') throw new Error(`listing core ${version} ${kind.plural} is not supported`);
      core ??= kc.makeApiClient(CoreV1Api);
      const typed = namespace === undefined ? await core.listPodForAllNamespaces(common) : await core.listNamespacedPod({ namespace, ...common });
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
        // Typed (core) lists leave apiVersion and kind off their items; the world keys objects by them.
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
