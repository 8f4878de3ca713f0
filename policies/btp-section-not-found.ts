import { definePolicy } from '../src/review/policy.js';
import type { FindingDraft, KubeObject } from '../src/kube/types.js';
import { WORLD_KEYS } from '../src/model/kinds.js';
import { routeRules, type AIGatewayRoute } from '../src/model/aigatewayroute.js';
import { btpRef, btpTargets, isHTTPRouteTarget, refLabel } from '../src/model/btp.js';
import { ON_ROUTE_AND_BTP_WRITES } from './fallover-shared.js';

function ruleNames(route: KubeObject): { named: string[]; unnamed: number[] } {
  const named: string[] = [];
  const unnamed: number[] = [];
  routeRules(route as AIGatewayRoute).forEach((r, i) => (typeof r.name === 'string' && r.name ? named.push(r.name) : unnamed.push(i)));
  return { named, unnamed };
}

function namesText(route: KubeObject): string {
  const { named, unnamed } = ruleNames(route);
  const parts = [named.length ? `rule names: ${named.map((n) => `"${n}"`).join(', ')}` : 'no rule has a name'];
  if (unnamed.length) parts.push(`${unnamed.map((i) => `spec.rules[${i}]`).join(', ')} ${unnamed.length === 1 ? 'is' : 'are'} unnamed and cannot be targeted`);
  return parts.join('; ');
}

const EFFECT =
  'Envoy Gateway reports Accepted=False with reason TargetNotFound only in the policy status, and the policy applies to no rule (its retry included)';

export default definePolicy({
  id: 'btp-section-not-found',
  description:
    'A BackendTrafficPolicy sectionName that is not the name of a rule of the AIGatewayRoute (unnamed rules cannot be targeted): the policy applies to nothing.',
  endpoint: 'validate',
  ...ON_ROUTE_AND_BTP_WRITES,
  defaultMode: 'warn',
  vap: { missing: 'cross-object', why: "needs the targeted AIGatewayRoute's rule names" },
  evaluate({ object, world }) {
    if (!object) return {};
    if (object.kind === 'BackendTrafficPolicy') {
      const findings: FindingDraft[] = [];
      const self = btpRef(object);
      for (const t of btpTargets(object)) {
        if (!isHTTPRouteTarget(t) || t.sectionName === undefined) continue;
        const route = world.get(WORLD_KEYS.aiGatewayRoute, self.namespace, t.name);
        if (!route || ruleNames(route).named.includes(t.sectionName)) continue;
        const { named, unnamed } = ruleNames(route);
        const fix = named.length
          ? `set ${t.path}.sectionName to one of ${named.map((n) => `"${n}"`).join(', ')}, or name the rule "${t.sectionName}" in AIGatewayRoute ${self.namespace}/${t.name}`
          : `give the rule a name: "${t.sectionName}" in AIGatewayRoute ${self.namespace}/${t.name} (spec.rules[${unnamed[0] ?? 0}].name)`;
        findings.push({
          path: `${t.path}.sectionName`,
          message: `BackendTrafficPolicy ${refLabel(self)} targets sectionName "${t.sectionName}" of HTTPRoute ${self.namespace}/${t.name}, but no rule of AIGatewayRoute ${self.namespace}/${t.name} is named "${t.sectionName}" (${namesText(route)}): ${EFFECT}. Fix: ${fix}.`,
        });
      }
      return { findings };
    }
    if (object.kind !== 'AIGatewayRoute') return {};
    const ns = object.metadata?.namespace ?? '';
    const name = object.metadata?.name ?? '';
    const btps = world.list(WORLD_KEYS.backendTrafficPolicy, ns);
    // No policy in the namespace (most routes): nothing can target a rule, so the rule names are not read.
    if (btps.length === 0) return {};
    const findings: FindingDraft[] = [];
    const { named } = ruleNames(object);
    for (const btp of btps) {
      for (const t of btpTargets(btp)) {
        if (!isHTTPRouteTarget(t) || t.name !== name || t.sectionName === undefined || named.includes(t.sectionName)) continue;
        findings.push({
          path: 'spec.rules',
          message: `BackendTrafficPolicy ${refLabel(btpRef(btp))} targets sectionName "${t.sectionName}" of this route, but no rule is named "${t.sectionName}" (${namesText(object)}): ${EFFECT}. Fix: name the rule "${t.sectionName}" again, or change ${t.path}.sectionName in BackendTrafficPolicy ${refLabel(btpRef(btp))}.`,
        });
      }
    }
    return { findings };
  },
});
