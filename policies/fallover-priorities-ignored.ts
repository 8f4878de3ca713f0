import { definePolicy } from '../src/review/policy.js';
import type { FindingDraft } from '../src/kube/types.js';
import { endpointText, refAddressType, type ResolvedRef } from '../src/model/providers.js';
import { ON_AIGATEWAYROUTE_WRITES } from './helpers.js';
import { FALLOVER_VAP_MISSING, isRoute } from './fallover-shared.js';
import { providersOf } from './provider-shared.js';

function refWithAddress(r: ResolvedRef): string {
  const endpoints = r.resolution.state === 'resolved' ? r.resolution.endpoints.map(endpointText).join(', ') : '';
  const where = r.backend ? `Backend ${r.backend.namespace}/${r.backend.name}` : r.aiServiceBackend ? `AIServiceBackend ${r.aiServiceBackend.namespace}/${r.aiServiceBackend.name}` : '';
  return `${r.name} (${[where, `${refAddressType(r)} ${endpoints}`].filter(Boolean).join(', ')})`;
}

export default definePolicy({
  id: 'fallover-priorities-ignored',
  description:
    "A rule's backends mix address types (FQDN next to IP or Service): Envoy Gateway builds one cluster per backend and splits traffic by weight, so the fallback gets a share of first attempts and no priority fall-over happens.",
  endpoint: 'validate',
  ...ON_AIGATEWAYROUTE_WRITES,
  defaultMode: 'warn',
  vap: { missing: 'fall-over', why: FALLOVER_VAP_MISSING },
  evaluate(ctx) {
    const { object } = ctx;
    if (!object || !isRoute(object)) return {};
    const findings: FindingDraft[] = [];
    for (const rule of providersOf(ctx, object)) {
      if (rule.levels.length < 2) continue;
      const fqdn = rule.refs.filter((r) => refAddressType(r) === 'FQDN');
      const ip = rule.refs.filter((r) => refAddressType(r) === 'IP');
      if (fqdn.length === 0 || ip.length === 0) continue;
      const first = rule.levels[0]!.priority;
      const weighted = rule.refs.filter((r) => r.weight > 0);
      const total = weighted.reduce((a, r) => a + r.weight, 0);
      const later = weighted.filter((r) => r.priority !== first);
      const share = total > 0 ? Math.round((100 * later.reduce((a, r) => a + r.weight, 0)) / total) : 0;
      const fallbacks = later.map((r) => r.name).join(', ') || 'the later priorities';
      // The fix goes to the IP side: a Service or pod address has a DNS name; a provider's FQDN has no stable IP.
      const toChange = ip.filter((r) => r.backend).map((r) => `${r.backend!.namespace}/${r.backend!.name}`);
      findings.push({
        path: `spec.rules[${rule.index}].backendRefs`,
        message:
          `${rule.label}: its backends mix address types: ${fqdn.map(refWithAddress).join('; ')} next to ${ip.map(refWithAddress).join('; ')}. ` +
          `Envoy Gateway then builds one cluster per backend and splits the rule's traffic by weight, so ${fallbacks} (after priority ${first}) get${later.length === 1 ? 's' : ''} about ${share}% of first attempts, ` +
          `and a failed request never falls over by priority: each cluster holds one backend. ` +
          `Fix: give every backend of the rule the same address type, e.g. ${toChange.length ? `an fqdn endpoint in Backend ${toChange.join(' and ')}` : 'fqdn endpoints'} (a Service's DNS name such as NAME.NAMESPACE.svc.cluster.local).`,
      });
    }
    return { findings };
  },
});
