import { definePolicy } from '../src/review/policy.js';
import type { FindingDraft } from '../src/kube/types.js';
import { endpointText, type ResolvedRef } from '../src/model/providers.js';
import { ON_AIGATEWAYROUTE_WRITES } from './helpers.js';
import { isRoute } from './fallover-shared.js';
import { providersOf } from './provider-shared.js';

const label = (r: { namespace: string; name: string }) => `${r.namespace}/${r.name}`;

function problem(r: ResolvedRef): { what: string; fix: string; missing?: boolean; failsRoute?: boolean } | undefined {
  if (r.resolution.state !== 'unresolved') return undefined;
  const asb = r.aiServiceBackend!;
  switch (r.resolution.reason) {
    case 'no-aiservicebackend':
      return { what: `names AIServiceBackend ${label(asb)}, which does not exist`, fix: `create AIServiceBackend ${label(asb)} or correct the name`, missing: true, failsRoute: true };
    case 'no-backend':
      return r.backend
        ? { what: `names AIServiceBackend ${label(asb)}, whose spec.backendRef names Backend ${label(r.backend)}, which does not exist`, fix: `create Backend ${label(r.backend)} (group gateway.envoyproxy.io) or correct spec.backendRef of AIServiceBackend ${label(asb)}`, missing: true }
        : { what: `names AIServiceBackend ${label(asb)}, whose spec.backendRef is not an Envoy Gateway Backend`, fix: `set spec.backendRef of AIServiceBackend ${label(asb)} to {group: gateway.envoyproxy.io, kind: Backend, name: ...}` };
    case 'mixed-address-types':
      return {
        what: `reaches Backend ${label(r.backend!)} (through AIServiceBackend ${label(asb)}), whose endpoints mix address types (${r.resolution.endpoints.map(endpointText).join(', ')}), which Envoy Gateway refuses as a backendRef`,
        fix: `give Backend ${label(r.backend!)} endpoints of one type (ip or unix), or split it into one Backend per type`,
      };
    case 'no-endpoints':
      return { what: `reaches Backend ${label(r.backend!)} (through AIServiceBackend ${label(asb)}), which has no endpoints`, fix: `add spec.endpoints (fqdn, ip or unix) to Backend ${label(r.backend!)}` };
  }
}

export default definePolicy({
  id: 'unresolved-backend',
  description:
    'A backendRef names an AIServiceBackend that does not exist (the AI Gateway controller then fails the whole route), or its Backend does not exist, has no endpoints or mixes address types (Envoy Gateway answers its weight share with 500 and splits the rule per backend, so its priorities do nothing).',
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
        // A missing AIServiceBackend stops the AI Gateway controller for the whole route (ai_gateway_route.go); the
        // others become an invalid backendRef whose weight Envoy Gateway answers with 500 (route.go).
        const key = `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
        const effect = p.failsRoute
          ? `the AI Gateway controller fails the whole route: it generates no HTTPRoute for AIGatewayRoute ${key} (or stops updating the one it made), so no rule of it is served or changed`
          : r.weight === 0
            ? 'nothing is sent to it (weight 0), but the reference stays broken'
            : rule.refs.filter((x) => x.weight !== 0).length > 1
              ? `Envoy Gateway answers its weight share of the rule's requests with HTTP 500, and builds one cluster per backend for this rule and splits its traffic by weight, so its priorities do nothing`
              : `Envoy Gateway answers every request of the rule with HTTP 500: it has no other backend`;
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
