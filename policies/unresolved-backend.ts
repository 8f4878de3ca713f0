import { definePolicy } from '../src/review/policy.js';
import type { FindingDraft } from '../src/kube/types.js';
import type { ResolvedRef } from '../src/model/providers.js';
import { ON_AIGATEWAYROUTE_WRITES } from './helpers.js';
import { isRoute } from './fallover-shared.js';
import { providersOf } from './provider-shared.js';

const label = (r: { namespace: string; name: string }) => `${r.namespace}/${r.name}`;

function problem(r: ResolvedRef): { what: string; fix: string; missing?: boolean } | undefined {
  if (r.resolution.state !== 'unresolved') return undefined;
  const asb = r.aiServiceBackend!;
  switch (r.resolution.reason) {
    case 'no-aiservicebackend':
      return { what: `names AIServiceBackend ${label(asb)}, which does not exist`, fix: `create AIServiceBackend ${label(asb)} or correct the name`, missing: true };
    case 'no-backend':
      return r.backend
        ? { what: `names AIServiceBackend ${label(asb)}, whose spec.backendRef names Backend ${label(r.backend)}, which does not exist`, fix: `create Backend ${label(r.backend)} (group gateway.envoyproxy.io) or correct spec.backendRef of AIServiceBackend ${label(asb)}`, missing: true }
        : { what: `names AIServiceBackend ${label(asb)}, whose spec.backendRef is not an Envoy Gateway Backend`, fix: `set spec.backendRef of AIServiceBackend ${label(asb)} to {group: gateway.envoyproxy.io, kind: Backend, name: ...}` };
    case 'no-endpoints':
      return { what: `reaches Backend ${label(r.backend!)} (through AIServiceBackend ${label(asb)}), which has no endpoints`, fix: `add spec.endpoints (fqdn, ip or unix) to Backend ${label(r.backend!)}` };
  }
}

export default definePolicy({
  id: 'unresolved-backend',
  description:
    'A backendRef names an AIServiceBackend, or an AIServiceBackend a Backend, that does not exist, or the Backend has no endpoints: requests to it fail and Envoy Gateway splits the rule per backend, so its priorities do nothing.',
  endpoint: 'validate',
  ...ON_AIGATEWAYROUTE_WRITES,
  defaultMode: 'warn',
  vap: { missing: 'cross-object', why: 'needs the referenced AIServiceBackends and Backends' },
  evaluate(ctx) {
    const { object } = ctx;
    if (!object || !isRoute(object)) return {};
    const findings: FindingDraft[] = [];
    for (const rule of providersOf(ctx, object)) {
      for (const r of rule.refs) {
        const p = problem(r);
        if (!p) continue;
        const effect =
          rule.refs.length > 1
            ? `requests sent to it fail, and Envoy Gateway builds one cluster per backend for this rule and splits its traffic by weight, so its priorities do nothing`
            : 'the rule has no working backend and its requests fail';
        findings.push({
          path: r.path,
          message:
            `${rule.label}: backendRef "${r.name}" ${p.what}. Until it resolves, ${effect}. ` +
            `Fix: ${p.fix}.${p.missing ? ' If it is applied together with this route, this warning is expected until it exists.' : ''}`,
          // Creation order varies (kubectl apply -f dir/): a missing object must never block the route.
          atMost: 'warn',
        });
      }
    }
    return { findings };
  },
});
