import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { KubeObject } from '../kube/types.js';

/** A kind read from the API server: custom resources under `/apis/<group>/<version>`, or core pods (`group: ''`). */
export interface ListedKind {
  /** World key (`group/Kind`). */
  key: string;
  group: string;
  plural: string;
  /** Tried in order; the first one served wins. */
  versions: readonly string[];
  /** Only objects with these labels (`k=v,k2=v2`), e.g. Envoy Gateway's proxy pods. */
  labelSelector?: string;
}

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
