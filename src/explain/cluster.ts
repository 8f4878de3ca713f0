/** `explain --route NS/NAME`: reads the route and every BackendTrafficPolicy from the cluster (I/O, composition side). */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { AdmissionError } from '../review/errors.js';
import { MemoryWorld } from '../world/world.js';
import { WORLD_KEYS } from '../model/kinds.js';
import type { KubeObject } from '../kube/types.js';

export const ROUTE_NEEDS_CLUSTER =
  '--route requires a cluster, and none was found (no --kubeconfig, no KUBECONFIG, no ~/.kube/config, not in a pod). Without a cluster, explain the manifests instead: aigw-admission explain -f FILE_OR_DIR';

export function parseRouteArg(value: string): { namespace: string; name: string } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(value);
  if (!m) throw new AdmissionError('INVALID_FLAG', `--route ${value}: expected NAMESPACE/NAME of an AIGatewayRoute, e.g. default/my-route`);
  return { namespace: m[1]!, name: m[3]! };
}

/**
 * The route, every AIGatewayRoute and every BackendTrafficPolicy (Gateway-level ones may live in other namespaces), and
 * the AIServiceBackends and Backends that say which provider each backendRef reaches.
 */
export async function clusterWorld(kc: KubeConfig, namespace: string, name: string): Promise<{ world: MemoryWorld; route: KubeObject }> {
  const api = kc.makeApiClient(CustomObjectsApi);
  let route: KubeObject;
  try {
    route = (await api.getNamespacedCustomObject({ group: 'aigateway.envoyproxy.io', version: 'v1beta1', namespace, plural: 'aigatewayroutes', name })) as KubeObject;
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (code === 404) throw new AdmissionError('INVALID_INPUT_FILE', `--route ${namespace}/${name}: no such AIGatewayRoute in the cluster`);
    throw err;
  }
  const list = async (group: string, version: string, plural: string, kind: string) => {
    const res = (await api.listClusterCustomObject({ group, version, plural })) as { items?: KubeObject[] };
    return (res.items ?? []).map((o) => ({ ...o, apiVersion: `${group}/${version}`, kind }));
  };
  const complete: string[] = [];
  /** A kind whose list succeeded is known in full, even when empty; one that cannot be listed is left unknown. */
  const optional = async (key: string, ...args: Parameters<typeof list>) => {
    try {
      const items = await list(...args);
      complete.push(key);
      return items;
    } catch {
      return [];
    }
  };
  const objects = [
    ...(await list('aigateway.envoyproxy.io', 'v1beta1', 'aigatewayroutes', 'AIGatewayRoute')),
    ...(await list('gateway.envoyproxy.io', 'v1alpha1', 'backendtrafficpolicies', 'BackendTrafficPolicy')),
    ...(await optional(WORLD_KEYS.aiServiceBackend, 'aigateway.envoyproxy.io', 'v1beta1', 'aiservicebackends', 'AIServiceBackend')),
    ...(await optional(WORLD_KEYS.backend, 'gateway.envoyproxy.io', 'v1alpha1', 'backends', 'Backend')),
  ];
  return { world: new MemoryWorld(objects, { complete }), route: { ...route, apiVersion: 'aigateway.envoyproxy.io/v1beta1', kind: 'AIGatewayRoute' } };
}
