import { definePolicy } from '../src/review/policy.js';
import type { FindingDraft } from '../src/kube/types.js';
import { endpointText, refAddressType, type ResolvedRef } from '../src/model/providers.js';
import { ON_AIGATEWAYROUTE_WRITES } from './helpers.js';
import { FALLOVER_VAP_MISSING, falloverOf, isRoute } from './fallover-shared.js';
import { providersOf } from './provider-shared.js';

function refWithAddress(r: ResolvedRef): string {
  const endpoints = r.resolution.state === 'resolved' ? r.resolution.endpoints.map(endpointText).join(', ') : '';
  const where = r.backend ? `Backend ${r.backend.namespace}/${r.backend.name}` : r.aiServiceBackend ? `AIServiceBackend ${r.aiServiceBackend.namespace}/${r.aiServiceBackend.name}` : '';
  return `${r.name} (${[where, `${refAddressType(r)} ${endpoints}`].filter(Boolean).join(', ')})`;
}

export default definePolicy({
  id: 'fallover-priorities-ignored',
  description:
    "A rule's backends mix address types (FQDN, IP or Service, unix socket), or its BackendTrafficPolicy turns on zone-aware load balancing: Envoy Gateway builds one cluster per backend and splits traffic by weight, so the fallback gets a share of first attempts and no priority fall-over happens.",
  endpoint: 'validate',
  ...ON_AIGATEWAYROUTE_WRITES,
  defaultMode: 'warn',
  vap: { missing: 'fall-over', why: FALLOVER_VAP_MISSING },
  evaluate(ctx) {
    const { object } = ctx;
    if (!object || !isRoute(object)) return {};
    const findings: FindingDraft[] = [];
    const model = falloverOf(ctx, object);
    for (const rule of providersOf(ctx, object)) {
      if (rule.levels.length < 2) continue;
      const split = model.rules[rule.index]?.split;
      if (!split || split.kind === 'invalid-backends') continue; // unresolved-backend reports those refs
      const first = rule.levels[0]!.priority;
      const weighted = rule.refs.filter((r) => r.weight > 0);
      const total = weighted.reduce((a, r) => a + r.weight, 0);
      const later = weighted.filter((r) => r.priority !== first);
      const share = total > 0 ? Math.round((100 * later.reduce((a, r) => a + r.weight, 0)) / total) : 0;
      const fallbacks = later.map((r) => r.name).join(', ') || 'the later priorities';
      const shareText = `${fallbacks} (after priority ${first}) get${later.length === 1 ? 's' : ''} about ${share}% of first attempts`;
      if (split.kind === 'zone-aware') {
        findings.push({
          path: `spec.rules[${rule.index}].backendRefs`,
          message:
            `${rule.label}: BackendTrafficPolicy ${split.btp.namespace}/${split.btp.name} sets ${split.field} (zone-aware load balancing), so Envoy Gateway builds one cluster per backend and splits the rule's traffic by weight: ` +
            `${shareText}, and a retry stays on the backend picked for the request, so a failed request never falls over by priority. ` +
            `Fix: remove ${split.field} from BackendTrafficPolicy ${split.btp.namespace}/${split.btp.name}, or give this route a BackendTrafficPolicy of its own without zone-aware load balancing.`,
        });
        continue;
      }
      const byType = split.types.map((t) => rule.refs.filter((r) => refAddressType(r) === t && r.weight !== 0));
      // The fix goes away from FQDN: a Service or pod address has a DNS name; a provider's FQDN has no stable IP.
      const toChange = rule.refs.filter((r) => r.weight !== 0 && refAddressType(r) !== undefined && refAddressType(r) !== 'FQDN' && r.backend).map((r) => `${r.backend!.namespace}/${r.backend!.name}`);
      findings.push({
        path: `spec.rules[${rule.index}].backendRefs`,
        message:
          `${rule.label}: its backends mix address types: ${byType.map((refs) => refs.map(refWithAddress).join('; ')).join(' next to ')}. ` +
          `Envoy Gateway then builds one cluster per backend and splits the rule's traffic by weight, so ${shareText}, ` +
          `and a failed request never falls over by priority: each cluster holds one backend. ` +
          `Fix: give every backend of the rule the same address type, e.g. ${toChange.length ? `an fqdn endpoint in Backend ${toChange.join(' and ')}` : 'fqdn endpoints'} (a Service's DNS name such as NAME.NAMESPACE.svc.cluster.local).`,
      });
    }
    return { findings };
  },
});
