import { definePolicy } from '../src/review/policy.js';
import { AIGATEWAYROUTE, WORLD_KEYS } from '../src/model/kinds.js';
import { routeRules, ruleBackendRefs, type AIGatewayRoute } from '../src/model/aigatewayroute.js';
import { findXdsNames, generatedMatchCountOf, listRules, resolveXdsName, routeHostnames } from '../src/model/xds-names.js';
import type { EventDraft, FindingDraft, Observation } from '../src/kube/types.js';
import { NO_PARAMS } from './helpers.js';
import { describeRef, listBackends, missObservation, plural, quoteName, refOf, ruleLabel, warningEvent } from './route-lookup.js';

export const ORPHAN_EVENT_REASON = 'OrphanedRuleReference';

/**
 * References are by index, so removing a rule (or a backendRef) silently moves or drops what every EnvoyPatchPolicy
 * written against the old rules patches. Judged against the EnvoyPatchPolicies the world holds, in every namespace
 * (a Gateway's policy may patch routes of other namespaces).
 */
export default definePolicy({
  id: 'orphaned-rule-references',
  description:
    'An AIGatewayRoute change removes rules or backendRefs that EnvoyPatchPolicies still name by index: their patches silently stop applying, or apply to another rule.',
  endpoint: 'validate',
  match: { kinds: [AIGATEWAYROUTE], operations: ['UPDATE', 'DELETE'] },
  defaultMode: 'warn',
  onError: 'allow-with-warning',
  paramsSchema: NO_PARAMS,
  defaultParams: {},
  vap: { missing: 'cross-object', why: 'needs the EnvoyPatchPolicies that name the deleted or shortened route' },
  evaluate({ operation, object, oldObject, world }) {
    const before = oldObject as AIGatewayRoute | null;
    const after = operation === 'DELETE' ? null : (object as AIGatewayRoute | null);
    const namespace = before?.metadata?.namespace ?? after?.metadata?.namespace;
    const name = before?.metadata?.name ?? after?.metadata?.name;
    if (!before || !namespace || !name) return {};
    const key = `${namespace}/${name}`;
    const findings: FindingDraft[] = [];
    const events: EventDraft[] = [];
    const observations: Observation[] = [];
    const oldCount = routeRules(before).length;
    const newCount = routeRules(after).length;

    for (const policy of world.list(WORLD_KEYS.envoyPatchPolicy)) {
      const referencing = refOf(policy);
      for (const ref of findXdsNames(policy)) {
        if (!ref.parsed.ok) continue;
        const n = ref.parsed.value;
        if (n.namespace !== namespace || n.name !== name) continue;
        // Only what this change breaks: a reference that already missed is route-rule-index's to report.
        if (!resolveXdsName(n, before).ok) continue;
        const now = resolveXdsName(n, after);
        const where = `${describeRef(referencing)} ${ref.path} names ${quoteName(ref.text)}`;
        const oldRule = ruleLabel(before, n.ruleIndex);
        const oldName = routeRules(before)[n.ruleIndex]?.name;
        const movedTo = typeof oldName === 'string' && oldName ? routeRules(after).findIndex((r) => r.name === oldName) : -1;
        const fixPolicy = `update or delete ${describeRef(referencing)}`;
        const moveFix = movedTo >= 0 ? `change the reference to rule/${movedTo} (where "${oldName}" is now) in ${describeRef(referencing)}` : undefined;
        if (now.ok) {
          // Still resolves, but to another rule: what it was written for moved or went away.
          const newName = routeRules(after)[n.ruleIndex]?.name;
          if (typeof oldName !== 'string' || !oldName || oldName === newName) continue;
          const newRule = ruleLabel(after, n.ruleIndex);
          findings.push({
            path: `spec.rules[${n.ruleIndex}]`,
            message:
              `after this change ${newRule} is where ${oldRule} was, so ${where}, written for ${oldRule}, now patches ${newRule}. ` +
              `Fix: ${moveFix ?? `"${oldName}" is gone: ${fixPolicy} (rules after the change: ${listRules(after)})`}.`,
          });
          events.push(warningEvent(ORPHAN_EVENT_REASON, `rule-moved: ${ref.path} ${quoteName(ref.text)}: AIGatewayRoute ${key} ${oldRule} is now ${newRule}`, referencing));
          continue;
        }
        const miss = { reason: now.reason, ref, namespace, name, ruleIndex: n.ruleIndex, ruleCount: after ? newCount : undefined, referencing };
        observations.push(missObservation(miss));
        let path: string;
        let message: string;
        let summary: string;
        switch (now.reason) {
          case 'route-not-found':
            path = '';
            message =
              `deleting AIGatewayRoute ${key} removes its ${plural(oldCount, 'rule')} (${listRules(before)}), but ${where}; that patch stops applying. ` +
              `Fix: ${fixPolicy} before deleting the route.`;
            summary = `AIGatewayRoute ${key} is being deleted`;
            break;
          case 'backend-index-out-of-range': {
            const backendIndex = n.kind === 'backend-cluster' ? n.backendIndex : 0;
            const backends = ruleBackendRefs(routeRules(after)[n.ruleIndex]!).length;
            path = `spec.rules[${n.ruleIndex}].backendRefs`;
            message =
              `after this change ${ruleLabel(after, n.ruleIndex)} has ${plural(backends, 'backendRef')} (${listBackends(after, n.ruleIndex)}), so ${where} names no backend; that patch stops applying. ` +
              `Fix: ${fixPolicy}, or keep backendRef ${backendIndex}.`;
            summary = `AIGatewayRoute ${key} ${ruleLabel(after, n.ruleIndex)} has ${plural(backends, 'backendRef')}, no backend ${backendIndex}`;
            break;
          }
          case 'match-index-out-of-range':
          case 'host-not-generated': {
            const byHost = now.reason === 'host-not-generated';
            const matches = generatedMatchCountOf(routeRules(after)[n.ruleIndex]!);
            const what = byHost ? `spec.hostnames is now [${routeHostnames(after!).join(', ')}]` : `it has ${plural(matches, 'match', 'matches')}`;
            path = byHost ? 'spec.hostnames' : `spec.rules[${n.ruleIndex}].matches`;
            message = `after this change ${where} names no route of ${ruleLabel(after, n.ruleIndex)} (${what}); that patch stops applying. Fix: ${fixPolicy}.`;
            summary = `AIGatewayRoute ${key} ${ruleLabel(after, n.ruleIndex)}: ${what}`;
            break;
          }
          default: {
            const catchAll = now.reason === 'catch-all-rule';
            path = 'spec.rules';
            message =
              `after this change AIGatewayRoute ${key} has ${plural(newCount, 'rule')} (${listRules(after)}), so ${where}, written for ${oldRule}, ` +
              (catchAll
                ? `now names the catch-all route-not-found rule the controller adds at index ${newCount}; that patch changes it instead of a model rule. `
                : `names no rule; that patch stops applying. `) +
              `Fix: ${moveFix ?? `${fixPolicy}, or keep the rule`}.`;
            summary = `AIGatewayRoute ${key} has ${plural(newCount, 'rule')} after the change; ${oldRule} ${movedTo >= 0 ? `is now rule ${movedTo}` : 'was removed'}`;
          }
        }
        findings.push({ path, message });
        events.push(warningEvent(ORPHAN_EVENT_REASON, `${now.reason}: ${ref.path} ${quoteName(ref.text)}: ${summary}`, referencing));
      }
    }
    return { findings, events, observations };
  },
});
