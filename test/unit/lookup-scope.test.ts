/**
 * A review's lookups touch only the namespaces that can matter, so its cost stays flat as the cluster grows (a route
 * review once scanned and sorted every BackendTrafficPolicy of the cluster for each rule: 200 ms a review at 10,000).
 */
import { describe, expect, it } from 'vitest';
import { review } from '../../src/review/review.js';
import { MemoryWorld } from '../../src/world/world.js';
import { WORLD_KEYS } from '../../src/model/kinds.js';
import type { KubeObject, World } from '../../src/kube/types.js';
import { admissionReview, deps, modelMatch, retryPolicy, route, WORKING_RETRY } from '../helpers.js';

/** The world, recording every `list` as `kind@namespace` (`*` for every namespace). */
function recording(world: World): { world: World; lists: string[] } {
  const lists: string[] = [];
  return {
    lists,
    world: {
      get: (k, ns, name) => world.get(k, ns, name),
      list: (k, ns) => (lists.push(`${k}@${ns ?? '*'}`), world.list(k, ns)),
      covers: (k) => world.covers(k),
      kubernetesMinor: () => world.kubernetesMinor(),
      syncedAt: () => world.syncedAt(),
      ready: () => world.ready(),
    },
  };
}

const idleRoute = (namespace: string, gatewayNamespace?: string): KubeObject => {
  const r = route(
    [
      {
        matches: modelMatch('gpt-5'),
        backendRefs: [
          { name: 'openai', priority: 0 },
          { name: 'anthropic', priority: 1 },
        ],
        timeouts: { request: '60s' },
        streamIdleTimeout: '5s',
      },
    ],
    'chat',
    namespace,
  );
  if (gatewayNamespace) (r.spec as { parentRefs: Array<Record<string, unknown>> }).parentRefs[0]!.namespace = gatewayNamespace;
  return r;
};

const gatewayRetry = (namespace: string): KubeObject => ({
  apiVersion: 'gateway.envoyproxy.io/v1alpha1',
  kind: 'BackendTrafficPolicy',
  metadata: { name: 'gateway-retry', namespace },
  spec: { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'ai-gateway' }], retry: WORKING_RETRY },
});

const btpLists = (lists: string[]) => lists.filter((l) => l.startsWith(`${WORLD_KEYS.backendTrafficPolicy}@`));

describe('lookup scope of a review', () => {
  it("an AIGatewayRoute review lists BackendTrafficPolicies only in the route's namespace and its Gateway's, and never lists AIServiceBackends or Backends", () => {
    const { world, lists } = recording(new MemoryWorld([gatewayRetry('infra'), retryPolicy({ namespace: 'elsewhere', route: 'chat' })]));
    review(admissionReview(idleRoute('team-a', 'infra')), 'validate', deps({ world }));
    expect([...new Set(btpLists(lists))].sort()).toEqual([`${WORLD_KEYS.backendTrafficPolicy}@infra`, `${WORLD_KEYS.backendTrafficPolicy}@team-a`]);
    expect(lists.filter((l) => l.startsWith(`${WORLD_KEYS.aiServiceBackend}@`) || l.startsWith(`${WORLD_KEYS.backend}@`))).toEqual([]);
  });

  it("a Gateway-level retry in the Gateway's namespace still applies to a route in another namespace", () => {
    const out = review(admissionReview(idleRoute('team-a', 'infra')), 'validate', deps({ world: new MemoryWorld([gatewayRetry('infra')]) }));
    expect(out.verdict.findings.filter((f) => f.policy.startsWith('fallover-'))).toEqual([]);
    // The same retry in a namespace the route cannot see attaches to nothing: the retry is reported missing.
    const elsewhere = review(admissionReview(idleRoute('team-a', 'infra')), 'validate', deps({ world: new MemoryWorld([gatewayRetry('team-b')]) }));
    expect(elsewhere.verdict.findings.map((f) => f.policy)).toContain('fallover-retry-missing');
  });

  it('a BackendTrafficPolicy write that targets only HTTPRoutes lists AIGatewayRoutes in its own namespace; one that targets a Gateway lists them all', () => {
    const routes = [idleRoute('team-a'), idleRoute('team-b')];
    const httpRouteOnly = recording(new MemoryWorld(routes));
    review(admissionReview(retryPolicy({ namespace: 'team-a' })), 'validate', deps({ world: httpRouteOnly.world }));
    expect([...new Set(httpRouteOnly.lists.filter((l) => l.startsWith(`${WORLD_KEYS.aiGatewayRoute}@`)))]).toEqual([`${WORLD_KEYS.aiGatewayRoute}@team-a`]);

    const gatewayTarget = recording(new MemoryWorld(routes));
    review(admissionReview(gatewayRetry('team-a')), 'validate', deps({ world: gatewayTarget.world }));
    expect([...new Set(gatewayTarget.lists.filter((l) => l.startsWith(`${WORLD_KEYS.aiGatewayRoute}@`)))]).toEqual([`${WORLD_KEYS.aiGatewayRoute}@*`]);
  });
});
