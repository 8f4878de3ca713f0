/** `explain --route NS/NAME`: reads the route and every BackendTrafficPolicy from the cluster (I/O, composition side). */
import { AdmissionError } from '../review/errors.js';
import { MemoryWorld } from '../world/world.js';
import { listAll, ListFailed, type PageLister } from '../world/list-page.js';
import { knownKind, WORLD_KEYS } from '../kube/registry.js';
import type { KubeObject } from '../kube/types.js';

export const ROUTE_NEEDS_CLUSTER =
  '--route requires a cluster, and none was found (no --kubeconfig, no KUBECONFIG, no ~/.kube/config, not in a pod). Without a cluster, explain the manifests instead: aigw-admission explain -f FILE_OR_DIR';

export function parseRouteArg(value: string): { namespace: string; name: string } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(value);
  if (!m) throw new AdmissionError('INVALID_FLAG', `--route ${value}: expected NAMESPACE/NAME of an AIGatewayRoute, e.g. default/my-route`);
  return { namespace: m[1]!, name: m[3]! };
}

/** Read in full; a failure is an error. */
const REQUIRED = [WORLD_KEYS.aiGatewayRoute, WORLD_KEYS.backendTrafficPolicy];
/** A kind whose list succeeded is known in full, even when empty; one that cannot be listed is left unknown. */
const OPTIONAL = [WORLD_KEYS.aiServiceBackend, WORLD_KEYS.backend];

/**
 * The route, every AIGatewayRoute and every BackendTrafficPolicy (Gateway-level ones may live in other namespaces), and
 * the AIServiceBackends and Backends that say which provider each backendRef reaches. Each kind is listed in pages at
 * the first version the cluster serves (src/kube/registry.ts).
 */
export async function clusterWorld(listPage: PageLister, namespace: string, name: string, pageSize = 500): Promise<{ world: MemoryWorld; route: KubeObject }> {
  const objects: KubeObject[] = [];
  const complete: string[] = [];
  for (const key of [...REQUIRED, ...OPTIONAL]) {
    try {
      const listed = await listAll(listPage, knownKind(key), { pageSize });
      objects.push(...(listed?.items ?? []));
      if (listed) complete.push(key);
    } catch (err) {
      if (REQUIRED.includes(key)) throw err instanceof ListFailed ? err.cause : err;
    }
  }
  const route = objects.find((o) => o.kind === 'AIGatewayRoute' && o.metadata?.namespace === namespace && o.metadata?.name === name);
  if (!route) throw new AdmissionError('INVALID_INPUT_FILE', `--route ${namespace}/${name}: no such AIGatewayRoute in the cluster`);
  return { world: new MemoryWorld(objects, { complete: complete.filter((k) => OPTIONAL.includes(k)) }), route };
}
