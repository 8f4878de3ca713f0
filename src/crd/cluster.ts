import type { KubeObject } from '../kube/types.js';
import type { ListedKind, PageLister } from '../world/list-page.js';
import { knownKind } from '../kube/registry.js';

/** The API groups whose CRDs `check` validates against. */
export const CHECKED_CRD_GROUPS: readonly string[] = ['aigateway.envoyproxy.io', 'gateway.envoyproxy.io', 'gateway.networking.k8s.io', 'inference.networking.k8s.io'];

const CRD_KIND: ListedKind = knownKind('apiextensions.k8s.io/CustomResourceDefinition');

/** The installed CRDs of the checked groups, so `check` validates against the versions the cluster really serves. */
export async function clusterCrds(listPage: PageLister): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  let token: string | undefined;
  do {
    const page = await listPage(CRD_KIND, 'v1', { limit: 100, continue: token });
    for (const crd of page.items) {
      const group = (crd.spec as { group?: unknown } | undefined)?.group;
      if (typeof group === 'string' && CHECKED_CRD_GROUPS.includes(group)) {
        out.push({ ...crd, apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition' });
      }
    }
    token = page.continue;
  } while (token);
  return out;
}
