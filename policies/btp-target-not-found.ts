import { definePolicy } from '../src/review/policy.js';
import type { FindingDraft } from '../src/kube/types.js';
import { WORLD_KEYS } from '../src/model/kinds.js';
import { btpRef, btpTargets, isHTTPRouteTarget, refLabel } from '../src/model/btp.js';
import { ON_ROUTE_AND_BTP_WRITES } from './fallover-shared.js';

/** Plain HTTPRoutes are not ours to judge; the world holds them when the cache or the files carry them. */
const HTTPROUTE_KEY = WORLD_KEYS.httpRoute;

export default definePolicy({
  id: 'btp-target-not-found',
  description:
    'A BackendTrafficPolicy targets an HTTPRoute that no AIGatewayRoute generates: Envoy Gateway skips it without any status, so its retry silently never applies.',
  endpoint: 'validate',
  ...ON_ROUTE_AND_BTP_WRITES,
  defaultMode: 'warn',
  vap: { missing: 'cross-object', why: 'needs the AIGatewayRoutes and Gateways the BackendTrafficPolicy targets' },
  evaluate({ object, world }) {
    if (object?.kind !== 'BackendTrafficPolicy') return {};
    const self = btpRef(object);
    const ns = self.namespace;
    const findings: FindingDraft[] = [];
    for (const t of btpTargets(object)) {
      if (!isHTTPRouteTarget(t)) continue;
      if (world.get(WORLD_KEYS.aiGatewayRoute, ns, t.name) || world.get(HTTPROUTE_KEY, ns, t.name)) continue;
      const here = world.list(WORLD_KEYS.aiGatewayRoute, ns).map((r) => r.metadata?.name ?? '').sort();
      findings.push({
        path: `${t.path}.name`,
        message:
          `BackendTrafficPolicy ${refLabel(self)} targets HTTPRoute ${ns}/${t.name}, but no AIGatewayRoute ${t.name} exists in namespace ${ns} ` +
          `(AIGatewayRoutes there: ${here.length ? here.join(', ') : 'none'}), so no generated HTTPRoute has that name: Envoy Gateway skips the policy without writing any status, and nothing in it (retry included) applies. ` +
          `Fix: set ${t.path}.name to the AIGatewayRoute's name (its generated HTTPRoute has the same name and namespace), or create the policy in the route's namespace. ` +
          `If the route is applied together with this policy (kubectl apply -f dir/), this warning is expected.`,
        atMost: 'warn',
      });
    }
    return { findings };
  },
});
